//! Standby status updates: what Sluice tells the walsender it has durably
//! applied, and the heartbeat that keeps the replication session alive.
//!
//! A status update is CopyData holding `r`, u64 write, u64 flush, u64 apply
//! (LSNs), i64 client time (µs since 2000-01-01) and u8 reply-requested (0).
//! The walsender drops a client it has not heard from for
//! `wal_sender_timeout` (default 60 s), so this loop runs on its own timer,
//! concurrently with the reader, and is never held up by a full events
//! channel: a pipeline stalled on a slow target must not lose its session.
//! It also answers at once when a keepalive requests a reply.
//!
//! # Why flush is the durable position, not the received one
//!
//! For a logical slot the flush LSN becomes `confirmed_flush_lsn`: the
//! server will never again send a transaction committed before it, and may
//! recycle the WAL behind it. Received is not durable: a change read from
//! the stream may still sit in the channel, in the mapper, or in an open
//! target transaction, and a crash there would lose it forever if the slot
//! had already moved past it. So the only position reported is the one the
//! engine publishes on `SourceStream.durable` — the lowest position every
//! target has committed, after the checkpoint store flushed it. Until
//! something is published, the start position is reported (already durable
//! by definition: the slot or the targets held it when streaming began).
//! Write and apply are reported equal to flush: Sluice has no separate write
//! stage, and a write position below the walsender's sent position also
//! makes an idle walsender send keepalives carrying its WAL end, which is
//! what lets the stream emit idle progress and the slot advance.
//!
//! Positions are exclusive bounds in the server's own terms (see
//! `stream.rs`), so the durable position is reported as it is: the server
//! then skips exactly the transactions whose commit record starts before it.
//!
//! A fast shutdown of the server waits for each logical walsender until its
//! client has confirmed everything sent. Idle progress (the keepalive's WAL
//! end, `stream.rs`) becoming durable is what lets the flush position reach
//! the sent position, so an engine that keeps acknowledging never holds up
//! a server shutdown; one stalled on a target does, as any subscriber would.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use postgres_protocol::message::frontend;
use sluice_api::{Lsn, Position};
use tokio::io::AsyncWrite;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::wire::FrameWriter;
use crate::error::PostgresError;

/// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
pub(crate) const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// Smallest gap between two updates triggered by a new durable position
/// (the timer and reply requests are not limited).
const MIN_DURABLE_GAP: Duration = Duration::from_millis(100);

/// How often to ask for a keepalive while the engine waits for a position.
const WANTED_POLL: Duration = Duration::from_millis(50);

/// The flush LSN to report for a durable position, never below `start`.
pub(crate) fn flush_lsn(durable: Option<&Position>, start: Lsn) -> Lsn {
    match durable {
        Some(Position::Postgres(lsn)) => (*lsn).max(start),
        // Not a PostgreSQL position: not ours to report.
        Some(_) | None => start,
    }
}

/// Encodes a standby status update.
pub(crate) fn encode_status(buf: &mut BytesMut, lsn: Lsn, client_time: i64, reply: bool) -> std::io::Result<()> {
    let mut body = BytesMut::with_capacity(34);
    body.put_u8(b'r');
    body.put_u64(lsn.0); // written
    body.put_u64(lsn.0); // flushed
    body.put_u64(lsn.0); // applied
    body.put_i64(client_time);
    // Reply requested: the walsender answers with a keepalive carrying its
    // sent position (how the engine learns an idle stream has passed a point).
    body.put_u8(u8::from(reply));
    frontend::CopyData::new(body.freeze())?.write(buf);
    Ok(())
}

pub(crate) fn now_pg_micros() -> i64 {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    i64::try_from(unix).unwrap_or(i64::MAX) - PG_EPOCH_OFFSET_MICROS
}

/// Sends status updates every `interval`, on reply requests and shortly
/// after each new durable position, until the connection fails.
pub(crate) async fn run<W: AsyncWrite + Unpin>(
    writer: &mut FrameWriter<W>,
    mut durable: watch::Receiver<Option<Position>>,
    mut wanted: watch::Receiver<Option<Position>>,
    start: Lsn,
    interval: Duration,
    reply_requested: Arc<Notify>,
) -> Result<(), PostgresError> {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut engine_attached = true;
    let mut last_sent: Option<Instant> = None;
    let mut last_reported = Lsn(0);
    // While the engine waits for a position, ask for a keepalive this often.
    let mut poll = tokio::time::interval(WANTED_POLL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut wanted_attached = true;
    loop {
        let mut ask = false;
        let waiting = wanted_attached && wanted.borrow().is_some();
        tokio::select! {
            _ = ticker.tick() => {}
            _ = poll.tick(), if waiting => ask = true,
            changed = wanted.changed(), if wanted_attached => {
                if changed.is_err() {
                    wanted_attached = false;
                    continue;
                }
                ask = wanted.borrow_and_update().is_some();
                if !ask {
                    continue;
                }
            }
            _ = reply_requested.notified() => {}
            changed = durable.changed(), if engine_attached => {
                if changed.is_err() {
                    // The engine dropped its end; keep the session alive with what we have.
                    engine_attached = false;
                    continue;
                }
                if let Some(sent) = last_sent {
                    tokio::time::sleep_until(sent + MIN_DURABLE_GAP).await;
                }
            }
        }
        let flush = flush_lsn(durable.borrow_and_update().as_ref(), start);
        writer.send(|buf| encode_status(buf, flush, now_pg_micros(), ask)).await?;
        if flush != last_reported {
            tracing::debug!(%flush, "reported durable position to the walsender");
            last_reported = flush;
        }
        last_sent = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_is_the_durable_position_and_never_below_start() {
        assert_eq!(flush_lsn(None, Lsn(500)), Lsn(500));
        assert_eq!(flush_lsn(Some(&Position::Postgres(Lsn(700))), Lsn(500)), Lsn(700));
        assert_eq!(flush_lsn(Some(&Position::Postgres(Lsn(100))), Lsn(500)), Lsn(500));
    }

    #[test]
    fn status_update_layout_matches_the_protocol() {
        let mut buf = BytesMut::new();
        encode_status(&mut buf, Lsn(0x0102_0304_0506_0708), 9, false).unwrap();
        // CopyData header: 'd', length 4 + 34.
        assert_eq!(&buf[..5], &[b'd', 0, 0, 0, 38]);
        assert_eq!(buf[5], b'r');
        for field in 0..3 {
            let at = 6 + field * 8;
            assert_eq!(&buf[at..at + 8], &0x0102_0304_0506_0708u64.to_be_bytes());
        }
        assert_eq!(&buf[30..38], &9i64.to_be_bytes());
        assert_eq!(buf[38], 0);
        assert_eq!(buf.len(), 39);
    }
}
