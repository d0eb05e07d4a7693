//! Run ids: sortable by start time, unique across machines.

use time::OffsetDateTime;
use time::macros::format_description;

/// `YYYYMMDDTHHMMSSZ-<8 hex>`, e.g. `20261121T101502Z-3f9a0c1d`.
pub fn new_run_id() -> String {
    let now = OffsetDateTime::now_utc();
    let stamp = now
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{stamp}-{}", &rand[..8])
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_are_unique_and_shaped() {
        let a = super::new_run_id();
        let b = super::new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 25, "{a}");
        assert_eq!(&a[8..9], "T");
        assert_eq!(&a[15..17], "Z-");
    }
}
