use super::{BenchOptions, Report};

pub(crate) async fn run(_opts: &BenchOptions, _report: &mut Report) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
