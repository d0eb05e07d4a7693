//! The prompt sent to the model: the system prompt, then the retrieved evidence (most
//! relevant first), then the task — within a token budget. Over budget, the least relevant
//! record is dropped first, and a record is always whole or absent, never cut.

use lakehouse_jobs::chat::Message;
use lakehouse_jobs::text::estimate_tokens;

/// One retrieved evidence record.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Its id.
    pub id: String,
    /// Search distance (smaller is closer).
    pub distance: f32,
    /// Kind, day and model, for the header line.
    pub label: String,
    /// Prompt text.
    pub prompt: String,
    /// Response text.
    pub response: String,
    /// A past success from the playbook (a worked example), not a record of evidence.
    pub example: bool,
}

impl Evidence {
    fn block(&self) -> String {
        if self.example {
            return format!(
                "[worked example {}] {}\nTask: {}\nAnswer: {}",
                self.id, self.label, self.prompt, self.response
            );
        }
        format!(
            "[evidence {}] {}\nPrompt: {}\nResponse: {}",
            self.id, self.label, self.prompt, self.response
        )
    }
}

/// The bundled prompt.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// What is sent.
    pub messages: Vec<Message>,
    /// The evidence that made it in, in order.
    pub included: Vec<String>,
    /// Estimated tokens of all messages.
    pub tokens: u64,
}

/// Overhead the chat template adds per message, in tokens (role markers).
const PER_MESSAGE: u64 = 4;

/// Bundles `system`, `evidence` (sorted by ascending distance) and `task` into at most
/// `budget` estimated tokens, dropping evidence from the least relevant end.
pub fn bundle(system: &str, evidence: &[Evidence], task: &str, budget: u64) -> Bundle {
    let mut ev: Vec<&Evidence> = evidence.iter().collect();
    ev.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    let blocks: Vec<String> = ev.iter().map(|e| e.block()).collect();
    let fixed = estimate_tokens(system) + estimate_tokens(task) + 2 * PER_MESSAGE + 16;
    let mut keep = blocks.len();
    let cost = |n: usize| -> u64 { blocks[..n].iter().map(|b| estimate_tokens(b) + 1).sum() };
    while keep > 0 && fixed + cost(keep) > budget {
        keep -= 1;
    }
    let user = if keep == 0 {
        format!("Task: {task}")
    } else {
        format!(
            "Evidence records, most relevant first:\n\n{}\n\nTask: {task}",
            blocks[..keep].join("\n\n")
        )
    };
    let messages = vec![
        Message {
            role: "system".into(),
            content: system.to_owned(),
        },
        Message {
            role: "user".into(),
            content: user,
        },
    ];
    let tokens = messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + PER_MESSAGE)
        .sum();
    Bundle {
        messages,
        included: ev[..keep].iter().map(|e| e.id.clone()).collect(),
        tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, distance: f32, chars: usize) -> Evidence {
        Evidence {
            id: id.into(),
            distance,
            label: "openai_chat 2026-11-21".into(),
            prompt: "p".repeat(chars),
            response: "r".into(),
            example: false,
        }
    }

    #[test]
    fn everything_fits_in_a_large_budget_in_relevance_order() {
        let b = bundle(
            "sys",
            &[ev("far", 0.9, 10), ev("near", 0.1, 10)],
            "do it",
            10_000,
        );
        assert_eq!(b.included, vec!["near", "far"]);
        let user = &b.messages[1].content;
        assert!(user.find("[evidence near]") < user.find("[evidence far]"));
        assert!(user.ends_with("Task: do it"));
    }

    #[test]
    fn the_least_relevant_goes_first_and_records_stay_whole() {
        let evs = [ev("a", 0.1, 400), ev("b", 0.2, 400), ev("c", 0.3, 400)];
        // Room for two records of ~110 tokens each, not three.
        let b = bundle("sys", &evs, "task", 280);
        assert_eq!(b.included, vec!["a", "b"]);
        assert!(b.tokens <= 280, "{}", b.tokens);
        let user = &b.messages[1].content;
        assert!(user.contains(&"p".repeat(400)), "a record is never cut");
        // A budget too small for any record still sends the task.
        let b = bundle("sys", &evs, "task", 40);
        assert!(b.included.is_empty());
        assert_eq!(b.messages[1].content, "Task: task");
    }

    #[test]
    fn a_huge_top_record_is_dropped_not_truncated() {
        let evs = [ev("huge", 0.05, 40_000), ev("small", 0.5, 40)];
        let b = bundle("sys", &evs, "task", 1000);
        // Dropping from the least relevant end empties the bundle before the huge one fits.
        assert!(b.included.is_empty());
    }
}
