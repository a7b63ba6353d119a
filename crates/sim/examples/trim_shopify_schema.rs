//! Make the Shopify schema the simulator ships from the full published
//! introspection file:
//!
//! ```sh
//! cargo run -p switchyard-sim --example trim_shopify_schema -- \
//!     admin_schema_2025-01.json.gz crates/sim/schema/shopify-admin-2025-01.trimmed.json.gz
//! ```
//!
//! It keeps the root fields the simulator serves and every type reachable
//! from them (see `switchyard_sim::shopify::schema::trim`), checks that the
//! result is a valid schema, and writes it gzipped.

use std::io::Write as _;
use std::path::PathBuf;

use switchyard_sim::shopify::schema;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: trim_shopify_schema FULL.json.gz OUT.json.gz".into());
    };
    let full = schema::read_json(&std::fs::read(&input)?)?;
    let trimmed = schema::trim(&full)?;
    let sdl = schema::introspection_to_sdl(&trimmed)?;
    let valid = apollo_compiler::Schema::parse_and_validate(sdl, "trimmed.graphql")
        .map_err(|e| e.errors.to_string())?;
    let bytes = serde_json::to_vec(&trimmed)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    std::fs::write(&output, gz.finish()?)?;
    eprintln!(
        "{} types of {} kept; {} bytes gzipped → {}",
        valid.types.len(),
        full["data"]["__schema"]["types"]
            .as_array()
            .map_or(0, Vec::len),
        std::fs::metadata(&output)?.len(),
        output.display()
    );
    Ok(())
}
