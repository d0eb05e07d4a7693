//! One streaming pass over the uploaded CSV, fed chunk by chunk while the upload arrives:
//! header checks, field counts, UTF-8 and type inference over every row, with the line number
//! of the first problem.

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

use crate::infer::Candidates;

/// Columns beyond this are refused.
pub const MAX_COLUMNS: usize = 4096;
/// A single field longer than this is refused.
pub const MAX_FIELD_BYTES: usize = 16 << 20;

/// A problem with the CSV, as a sentence naming the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScanError(pub String);

/// One column's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnScan {
    /// Header name (or `column<i>` without a header).
    pub name: String,
    /// Inferred SQL type.
    pub sql_type: &'static str,
    /// Whether an empty value was seen.
    pub nullable: bool,
    /// Every type its values fit.
    pub candidates: Candidates,
}

/// What the whole file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Columns in order.
    pub columns: Vec<ColumnScan>,
    /// Data rows (header excluded).
    pub rows: u64,
}

struct Column {
    name: String,
    candidates: Candidates,
    nullable: bool,
}

/// The incremental scanner.
pub struct Scanner {
    reader: Reader,
    field: Vec<u8>,
    len: usize,
    has_header: bool,
    in_header: bool,
    columns: Vec<Column>,
    field_index: usize,
    rows: u64,
    newlines: u64,
    record_line: u64,
    /// The first bytes, held until there are enough to tell a UTF-8 BOM: csv-core drops a
    /// BOM only when its first buffer holds all of it, so chunking would change the header.
    head: Option<Vec<u8>>,
}

/// Length of a UTF-8 BOM.
const BOM_BYTES: usize = 3;

impl Scanner {
    /// A scanner for `delimiter`; with `has_header` the first record names the columns.
    pub fn new(delimiter: u8, has_header: bool) -> Self {
        Self {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            field: vec![0; 4096],
            len: 0,
            has_header,
            in_header: true,
            columns: Vec::new(),
            field_index: 0,
            rows: 0,
            newlines: 0,
            record_line: 1,
            head: Some(Vec::new()),
        }
    }

    /// Feeds the next chunk.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), ScanError> {
        let Some(head) = self.head.as_mut() else {
            return self.run(input);
        };
        head.extend_from_slice(input);
        if head.len() < BOM_BYTES {
            return Ok(());
        }
        self.flush_head()
    }

    fn flush_head(&mut self) -> Result<(), ScanError> {
        let Some(head) = self.head.take() else {
            return Ok(());
        };
        // An empty input would tell csv-core the file ended.
        if head.is_empty() {
            return Ok(());
        }
        self.run(&head)
    }

    /// Ends the input; the findings.
    pub fn finish(mut self) -> Result<Scan, ScanError> {
        self.flush_head()?;
        self.run(&[])?;
        if self.columns.is_empty() {
            return Err(ScanError("the file is empty".into()));
        }
        if self.rows == 0 {
            return Err(ScanError("the CSV has a header but no data rows".into()));
        }
        Ok(Scan {
            columns: self
                .columns
                .into_iter()
                .map(|c| ColumnScan {
                    name: c.name,
                    sql_type: c.candidates.sql_type(),
                    nullable: c.nullable,
                    candidates: c.candidates,
                })
                .collect(),
            rows: self.rows,
        })
    }

    fn run(&mut self, mut input: &[u8]) -> Result<(), ScanError> {
        let at_end = input.is_empty();
        loop {
            // csv-core reads an empty input as the end of the file: only say so at the end.
            if input.is_empty() && !at_end {
                return Ok(());
            }
            let (res, nin, nout) = self.reader.read_field(input, &mut self.field[self.len..]);
            self.newlines += input[..nin].iter().filter(|b| **b == b'\n').count() as u64;
            input = &input[nin..];
            self.len += nout;
            match res {
                ReadFieldResult::InputEmpty => {
                    if !at_end {
                        return Ok(());
                    }
                }
                ReadFieldResult::OutputFull => {
                    if self.field.len() >= MAX_FIELD_BYTES {
                        return Err(ScanError(format!(
                            "line {}: a field is longer than {} MiB",
                            self.record_line,
                            MAX_FIELD_BYTES >> 20
                        )));
                    }
                    let grown = self.field.len() * 2;
                    self.field.resize(grown, 0);
                }
                ReadFieldResult::Field { record_end } => {
                    self.on_field()?;
                    if record_end {
                        self.on_record_end()?;
                    }
                }
                ReadFieldResult::End => return Ok(()),
            }
        }
    }

    fn on_field(&mut self) -> Result<(), ScanError> {
        let bytes = &self.field[..self.len];
        self.len = 0;
        let index = self.field_index;
        self.field_index += 1;
        if self.in_header {
            if index >= MAX_COLUMNS {
                return Err(ScanError(format!(
                    "line {}: more than {MAX_COLUMNS} columns",
                    self.record_line
                )));
            }
            let name = if self.has_header {
                let s = std::str::from_utf8(bytes).map_err(|_| {
                    ScanError(format!(
                        "line {}: column {} has a name that is not valid UTF-8",
                        self.record_line,
                        index + 1
                    ))
                })?;
                s.to_owned()
            } else {
                format!("column{index}")
            };
            self.columns.push(Column {
                name,
                candidates: Candidates::ALL,
                nullable: false,
            });
            if self.has_header {
                return Ok(());
            }
        }
        let Some(col) = self.columns.get_mut(index) else {
            return Err(self.ragged(index + 1));
        };
        if bytes.is_empty() {
            col.nullable = true;
            return Ok(());
        }
        let Ok(v) = std::str::from_utf8(bytes) else {
            return Err(ScanError(format!(
                "line {}, column '{}': invalid UTF-8",
                self.record_line, col.name
            )));
        };
        col.candidates.narrow(v);
        Ok(())
    }

    fn ragged(&self, found: usize) -> ScanError {
        ScanError(format!(
            "line {}: expected {} fields, as in the {}, found {found}",
            self.record_line,
            self.columns.len(),
            if self.has_header {
                "header"
            } else {
                "first row"
            }
        ))
    }

    fn on_record_end(&mut self) -> Result<(), ScanError> {
        let fields = std::mem::take(&mut self.field_index);
        if self.in_header {
            self.in_header = false;
            if self.has_header {
                self.check_header()?;
            } else {
                self.rows += 1;
            }
        } else if fields != self.columns.len() {
            return Err(self.ragged(fields));
        } else {
            self.rows += 1;
        }
        // csv-core has consumed the record's terminator; blank lines in between are skipped
        // and counted when the next record's bytes are.
        self.record_line = self.newlines + 1;
        Ok(())
    }

    fn check_header(&self) -> Result<(), ScanError> {
        let mut seen = std::collections::HashMap::new();
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.trim().is_empty() {
                return Err(ScanError(format!(
                    "line 1: column {} has an empty name",
                    i + 1
                )));
            }
            if let Some(first) = seen.insert(c.name.to_lowercase(), i) {
                return Err(ScanError(format!(
                    "line 1: column name '{}' appears twice (columns {} and {}; names are case-insensitive)",
                    c.name,
                    first + 1,
                    i + 1
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_chunks(data: &[u8], chunk: usize, header: bool) -> Result<Scan, ScanError> {
        let mut s = Scanner::new(b',', header);
        for c in data.chunks(chunk.max(1)) {
            s.feed(c)?;
        }
        s.finish()
    }

    fn scan(data: &str) -> Result<Scan, ScanError> {
        // Every chunking gives the same answer as one chunk.
        let whole = scan_chunks(data.as_bytes(), usize::MAX, true);
        for size in [1, 2, 3, 7] {
            assert_eq!(
                scan_chunks(data.as_bytes(), size, true),
                whole,
                "chunk {size}"
            );
        }
        whole
    }

    fn types(s: &Scan) -> Vec<(&str, &str, bool)> {
        s.columns
            .iter()
            .map(|c| (c.name.as_str(), c.sql_type, c.nullable))
            .collect()
    }

    #[test]
    fn infers_over_the_whole_file() {
        let mut csv = String::from("id,score,ok,day,at,name,late\n");
        for i in 0..5000 {
            csv.push_str(&format!(
                "{i},{}.5,true,2024-01-02,2024-01-02 03:04:05,n{i},{i}\n",
                i % 7
            ));
        }
        // A last row that contradicts the first 5000 in one column only.
        csv.push_str("5000,1,false,2024-01-03,2024-01-03,,x\n");
        let s = scan(&csv).unwrap();
        assert_eq!(s.rows, 5001);
        assert_eq!(
            types(&s),
            vec![
                ("id", "BIGINT", false),
                ("score", "DOUBLE", false),
                ("ok", "BOOLEAN", false),
                ("day", "DATE", false),
                ("at", "TIMESTAMP", false),
                ("name", "VARCHAR", true),
                ("late", "VARCHAR", false),
            ]
        );
    }

    #[test]
    fn quoting_and_newlines() {
        let csv = "a,b\n\"x, \"\"y\"\"\nz\",1\n\"\",2\r\n3,\n";
        let s = scan(csv).unwrap();
        assert_eq!(s.rows, 3);
        assert_eq!(
            types(&s),
            vec![("a", "VARCHAR", true), ("b", "BIGINT", true)]
        );
        // No trailing newline.
        assert_eq!(scan("a\n1\n2").unwrap().rows, 2);
    }

    #[test]
    fn errors_name_the_line() {
        let e = scan("a,b\n1,2\n3\n").unwrap_err();
        assert!(e.0.starts_with("line 3:"), "{e}");
        let e = scan("a,b\n\"multi\nline\",2\n3,4,5\n").unwrap_err();
        assert!(e.0.starts_with("line 4:") && e.0.contains("found 3"), "{e}");
        let e = scan_chunks(b"a,b\n1,2\n3,\xff\xfe\n", 3, true).unwrap_err();
        assert!(e.0.starts_with("line 3, column 'b': invalid UTF-8"), "{e}");
        assert!(scan("a,A\n1,2\n").unwrap_err().0.contains("appears twice"));
        assert!(scan("a,,c\n1,2,3\n").unwrap_err().0.contains("empty name"));
        assert!(scan("").unwrap_err().0.contains("empty"));
        assert!(scan("a,b\n").unwrap_err().0.contains("no data rows"));
    }

    #[test]
    fn without_header() {
        let s = scan_chunks(b"1,x\n2,y\n", 3, false).unwrap();
        assert_eq!(s.rows, 2);
        assert_eq!(
            types(&s),
            vec![("column0", "BIGINT", false), ("column1", "VARCHAR", false)]
        );
    }
}

#[cfg(test)]
mod big {
    use super::*;

    #[test]
    fn large_files_in_upload_sized_chunks() {
        let mut csv = String::from("id,region,amount,paid,day\n");
        for i in 0..200_000u64 {
            csv.push_str(&format!(
                "{i},r{},{}.{:02},{},2024-03-{:02}\n",
                i % 5,
                i % 97,
                i % 100,
                i % 3 == 0,
                1 + i % 28
            ));
        }
        for chunk in [4096, 8192, 65536, 1 << 20, 100_003] {
            let mut s = Scanner::new(b',', true);
            for c in csv.as_bytes().chunks(chunk) {
                s.feed(c).unwrap_or_else(|e| panic!("chunk {chunk}: {e}"));
            }
            assert_eq!(s.finish().unwrap().rows, 200_000, "chunk {chunk}");
        }
    }
}
