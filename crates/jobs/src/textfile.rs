//! A batch job's run figures as a Prometheus textfile: node_exporter's textfile collector (or
//! any agent reading `*.prom` files) picks them up between runs. Written to a temporary file
//! in the same directory and renamed, so a scrape never reads half a file.

use std::fmt::Write as _;
use std::path::Path;

/// Series of one job's last run.
#[derive(Debug, Default)]
pub struct Figures {
    text: String,
}

impl Figures {
    /// Adds a metric with one sample per `(labels, value)`; `labels` like `kind="x"` or empty.
    pub fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            if labels.is_empty() {
                let _ = writeln!(self.text, "{name} {v}");
            } else {
                let _ = writeln!(self.text, "{name}{{{labels}}} {v}");
            }
        }
    }

    /// The exposition text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Writes the text to `path` atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(tmp.path(), &self.text)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The current time in Unix seconds, for `…_last_run_timestamp_seconds`.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_complete_textfile_in_place() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut f = Figures::default();
        f.metric(
            "job_rows",
            "gauge",
            "Rows.",
            &[("kind=\"a\"".into(), 3.0), (String::new(), 1.5)],
        );
        let path = dir.path().join("sub/job.prom");
        f.write(&path).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text,
            "# HELP job_rows Rows.\n# TYPE job_rows gauge\njob_rows{kind=\"a\"} 3\njob_rows 1.5\n"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub"))
                .map(Iterator::count)
                .unwrap_or(0),
            1
        );
    }
}
