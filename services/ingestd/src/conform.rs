//! Fitting an appended file to its dataset: when every value of each column parses as the
//! dataset's type for it, the file is converted in the dataset's types. Widening only: a
//! whole number into DOUBLE, a date into TIMESTAMP, anything into VARCHAR, and a column of
//! empty values into any type. Anything else is a real conflict, named column by column.

use lakehouse_types::Column;

use crate::scan::ColumnScan;

/// The types a CSV column can be converted into (what inference itself produces).
const CSV_TYPES: [&str; 6] = [
    "BOOLEAN",
    "BIGINT",
    "DOUBLE",
    "DATE",
    "TIMESTAMP",
    "VARCHAR",
];

/// The file's columns retyped as the dataset's, or why they cannot be.
pub fn conform(file: &[ColumnScan], dataset: &[Column]) -> Result<Vec<ColumnScan>, String> {
    if file.len() != dataset.len() {
        return Err(format!(
            "the file has {} columns and the dataset {}",
            file.len(),
            dataset.len()
        ));
    }
    file.iter()
        .zip(dataset)
        .map(|(f, d)| {
            if f.name != d.name {
                return Err(format!(
                    "column '{}' of the file is '{}' in the dataset",
                    f.name, d.name
                ));
            }
            let target = CSV_TYPES.iter().find(|t| t.eq_ignore_ascii_case(&d.ty));
            match target {
                Some(t) if f.candidates.fits(t) => Ok(ColumnScan {
                    sql_type: t,
                    ..f.clone()
                }),
                _ => Err(format!(
                    "column '{}' is {} in the file and {} in the dataset, and not every value \
                     converts without loss",
                    f.name, f.sql_type, d.ty
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::Candidates;

    fn scanned(name: &str, values: &[&str]) -> ColumnScan {
        let mut c = Candidates::ALL;
        for v in values {
            c.narrow(v);
        }
        ColumnScan {
            name: name.into(),
            sql_type: c.sql_type(),
            nullable: false,
            candidates: c,
        }
    }

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
            nullable: true,
        }
    }

    #[test]
    fn widening_fits_and_conflicts_are_named() {
        let file = [
            scanned("rate", &["1", "2"]),
            scanned("day", &["2024-01-01"]),
            scanned("note", &["true", "false"]),
            scanned("empty", &[]),
        ];
        let dataset = [
            col("rate", "DOUBLE"),
            col("day", "TIMESTAMP"),
            col("note", "VARCHAR"),
            col("empty", "BIGINT"),
        ];
        let out = conform(&file, &dataset).unwrap();
        let types: Vec<&str> = out.iter().map(|c| c.sql_type).collect();
        assert_eq!(types, ["DOUBLE", "TIMESTAMP", "VARCHAR", "BIGINT"]);

        let e = conform(&[scanned("rate", &["1.5"])], &[col("rate", "BIGINT")]).unwrap_err();
        assert!(
            e.contains("'rate'") && e.contains("DOUBLE") && e.contains("BIGINT"),
            "{e}"
        );
        let e = conform(&[scanned("d", &["2024-01-01 10:00"])], &[col("d", "DATE")]).unwrap_err();
        assert!(e.contains("TIMESTAMP") && e.contains("DATE"), "{e}");
        assert!(conform(&[scanned("a", &["x"])], &[col("b", "VARCHAR")]).is_err());
        assert!(
            conform(
                &[scanned("a", &["x"])],
                &[col("a", "VARCHAR"), col("b", "VARCHAR")]
            )
            .is_err()
        );
    }
}
