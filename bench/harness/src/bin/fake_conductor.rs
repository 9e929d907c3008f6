//! The benchmarks' fake Conductor: the `fake-conductor` library (the same fake the tests use) serving N preloaded
//! tasks of one type, without recording calls or bodies (it only counts), on its own multi-threaded runtime.
//! See the library's docs for the endpoints, `/bench/stats` and `/bench/summary` included.

use clap::Parser;
use fake_conductor::{FakeConductor, Options};

#[derive(Parser, Debug)]
struct Args {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Where the bound port is written (for the driver).
    #[arg(long)]
    port_file: Option<String>,
    /// Task type of the preloaded tasks.
    #[arg(long, default_value = "bench_http")]
    task_type: String,
    /// Number of preloaded tasks.
    #[arg(long, default_value_t = 100_000)]
    tasks: u32,
    /// The tasks' inputData (JSON); `{{ID}}` is replaced by the task's index.
    #[arg(long, default_value = r#"{"http_request":{"uri":"http://127.0.0.1:8090/fixed","method":"GET"}}"#)]
    input: String,
    /// A terminal update counts as valid when its body contains this string (e.g. DONE).
    #[arg(long, default_value = "")]
    expect: String,
    /// responseTimeoutSeconds embedded in each task (top level and workflowTask.taskDefinition).
    #[arg(long, default_value_t = 3600)]
    response_timeout_secs: u64,
    /// Hand out never-delivered tasks at most this many per second from the first poll on (0 = no limit), so
    /// that their timers later fire at a rate the worker can sustain (S4 paced).
    #[arg(long, default_value_t = 0)]
    release_per_s: u64,
}

fn main() {
    let args = Args::parse();
    let workers = std::env::var("BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen).await.expect("bind");
        let options = Options {
            record: false,
            response_timeout_secs: args.response_timeout_secs,
            expect: args.expect.clone(),
            ..Options::default()
        };
        let fake = FakeConductor::serve(listener, options);
        fake.preload(&args.task_type, args.tasks, &args.input, args.release_per_s);
        if let Some(file) = &args.port_file {
            std::fs::write(file, fake.addr.port().to_string()).expect("writing the port file");
        }
        eprintln!("fake-conductor listening on {}", fake.addr);
        std::future::pending::<()>().await;
    });
}
