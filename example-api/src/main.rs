//! `example-api`: serves the tutorial's long-running API on loopback (see the library docs for the routes).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The tutorial's Lambda + DynamoDB + API Gateway, without AWS.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "EXAMPLE_API_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// How long a job stays PROCESSING after its invocation, in milliseconds. The tutorial's Lambda takes 27 s.
    #[arg(long, env = "EXAMPLE_API_DELAY_MS", default_value_t = 27_000)]
    delay_ms: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let api = example_api::ExampleApi::new(Duration::from_millis(args.delay_ms));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("example-api listening on http://{} (jobs complete after {} ms)", listener.local_addr()?, args.delay_ms);
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    axum::serve(listener, api.router()).with_graceful_shutdown(shutdown).await
}
