//! Running async SQL from blocking code (constructors, `Drop`).
//!
//! `Runtime::block_on` panics when called from inside another runtime, and a
//! testkit constructor or destructor may run inside a `#[tokio::test]`. So the
//! future runs on a fresh thread with its own current-thread runtime, and the
//! caller's thread (and runtime, if any) just waits for it.

use std::future::Future;

/// Runs `future` to completion on a new thread and returns its output;
/// a panic inside it is resumed on the caller's thread.
pub(crate) fn run<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("sluice-testkit".to_owned())
            .spawn_scoped(scope, move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|err| panic!("Could not build a tokio runtime for the testkit: {err}"));
                runtime.block_on(future)
            })
            .unwrap_or_else(|err| panic!("Could not spawn a testkit thread: {err}"));
        match worker.join() {
            Ok(output) => output,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
