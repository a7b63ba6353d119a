//! `switchyard bench` at toy sizes: every scenario runs end to end and
//! checks its own work (orders imported exactly once, every channel in
//! step, signatures valid). The figures are not judged here: timings
//! belong to the benchmark, not to tests.

use std::time::Duration;

use switchyard::bench::{BenchOptions, Scenario, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_benchmark_scenario_runs_and_measures_what_it_did() {
    let opts = BenchOptions {
        import_orders: 150,
        rate: 5,
        duration: Duration::from_secs(2),
        cadence_secs: 10,
        propagation_products: 60,
        catalogue_sizes: vec![400, 800],
        catalogue_orders: 10,
        webhooks: 40,
        scale_orders: 100,
        webhook_rate: 20,
        webhook_duration: Duration::from_secs(1),
        backfill_orders: 60,
        backfill_pages: 2,
        seed: 3,
        // The test backend: SQLite files, or the test cluster's server.
        database_url: if switchyard_testkit::on_postgres() {
            switchyard_pgtest::cluster().unwrap().url("postgres")
        } else {
            String::new()
        },
    };
    let report = run(Scenario::All, &opts).await.expect("the benchmarks run");
    let value = |scenario: &str, metric: &str| {
        report
            .figure(scenario, metric)
            .unwrap_or_else(|| panic!("no figure {scenario} / {metric}"))
            .value
    };
    let ours = report
        .figure("import", "orders imported per second")
        .unwrap();
    assert!(ours.value > 0.0 && ours.baseline.is_some_and(|b| b > 0.0));
    // Every sale was placed and timed until every other channel took it.
    assert_eq!(value("propagation", "notified: sales measured"), 10.0);
    assert_eq!(
        value("propagation", "polled every 10 s: sales measured"),
        10.0
    );
    assert!(value("propagation", "notified: p99") >= value("propagation", "notified: p50"));
    for size in ["400 SKUs", "800 SKUs"] {
        assert!(value("catalogue", &format!("{size}: time per order")) > 0.0);
        assert!(value("catalogue", &format!("{size}: peak RSS")) > 0.0);
    }
    assert!(value("webhooks", "burst: deliveries per second") > 0.0);
    // The export read the whole history (it checks so itself).
    assert!(value("backfill", "Shopify backfill, paged under the cost bucket") > 0.0);
    assert!(value("backfill", "Shopify backfill, bulk export") > 0.0);
    assert!(value("webhooks", "import-paced: deliveries per second") > 0.0);
    for flow in ["import-paced", "steady 20/s"] {
        assert!(
            value("webhooks", &format!("{flow}: delay after the change, max"))
                >= value("webhooks", &format!("{flow}: delay after the change, p50"))
        );
    }
    // Several instances share one PostgreSQL database: the scale run.
    if switchyard_testkit::on_postgres() {
        let report = run(Scenario::Scale, &opts).await.expect("the scale run");
        for n in 1..=3 {
            let f = report
                .figure(
                    "scale",
                    &format!("import, {n} instance(s): orders per second"),
                )
                .expect("an import figure per instance count");
            assert!(f.value > 0.0);
        }
        let sales = report
            .figure("scale", "notified, 3 instances: sales measured")
            .expect("propagation with three instances");
        assert_eq!(sales.value, 10.0);
    }
}
