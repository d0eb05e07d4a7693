//! Typed client for queryd's `/sql`, directly or through the gateway's `/v1`.

use lakehouse_types::{SqlRequest, SqlResponse};
use reqwest::Method;

use crate::{ClientError, ServiceClient};

/// Client for queryd.
#[derive(Debug, Clone)]
pub struct SqlClient {
    inner: ServiceClient,
}

impl SqlClient {
    /// Wraps a base client (queryd's URL, or the gateway's URL + `/v1`).
    pub fn new(inner: ServiceClient) -> Self {
        Self { inner }
    }

    /// Runs one read-only statement and returns the JSON answer.
    pub async fn query(
        &self,
        sql: &str,
        max_rows: Option<u64>,
        rid: &str,
    ) -> Result<SqlResponse, ClientError> {
        self.query_at(sql, max_rows, None, rid).await
    }

    /// As [`Self::query`], reading every dataset as of `as_of` when given.
    pub async fn query_at(
        &self,
        sql: &str,
        max_rows: Option<u64>,
        as_of: Option<&lakehouse_types::AsOf>,
        rid: &str,
    ) -> Result<SqlResponse, ClientError> {
        let body = SqlRequest {
            sql: sql.to_owned(),
            format: None,
            max_rows,
            as_of: as_of.cloned(),
        };
        let req = self.inner.request(Method::POST, "/sql", rid).json(&body);
        self.inner.send_json(req).await
    }
}

/// A SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
