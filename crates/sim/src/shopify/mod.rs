pub mod schema;
pub(crate) fn build(
    opts: &crate::SimOptions,
) -> Result<(axum::Router, serde_json::Value), crate::SimError> {
    let _ = opts;
    Err(crate::SimError::SchemaMissing {
        file: schema::SCHEMA_FILE,
        looked: String::new(),
    })
}
