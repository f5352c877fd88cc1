//! Read coalescing on the replication socket: while the walsender streams
//! fast, Sluice reads the socket in batches instead of as soon as a byte
//! arrives, which cuts both its own cost and the walsender's per message.
//!
//! # Why
//!
//! The walsender flushes every pgoutput message as soon as it has written it
//! (`WalSndWriteData` → `pq_flush_if_writable`), and PostgreSQL sets
//! `TCP_NODELAY`. While the receiver's window is open, each of those sends
//! transmits at once: Begin, the change and Commit of a one-row transaction
//! are three packets, and on loopback the walsender also pays for their
//! receive side in softirq and for waking the reader. Measured with `perf`
//! on a one-row-transaction catch-up, `__tcp_push_pending_frames` took 33–41%
//! of the walsender's samples when Sluice read as fast as data came, against
//! 6% behind PostgreSQL's own (slower) apply worker, whose full socket
//! closes the window so the walsender's sends only append to its send queue.
//! Reading as soon as a byte arrives also makes the walsender wake Sluice for
//! every packet (`sock_def_readable`) and Sluice pay a `recvfrom` and an
//! `epoll_wait` per two or three transactions. The walsender is the
//! bottleneck of a catch-up, so its cost per message is Sluice's throughput.
//!
//! # How
//!
//! [`ReadPolicy`] watches the gaps between reads. After
//! [`FAST_READS_TO_ARM`] reads in a row less than [`FAST_GAP`] apart (a
//! stream that keeps the reader busy), it arms: the socket's `SO_RCVLOWAT`
//! goes to [`LOW_WATER`], so the kernel neither wakes Sluice nor makes the
//! socket readable until that much is queued, and each read waits at most
//! [`GATHER_WAIT`]. When the wait runs out, `SO_RCVLOWAT` drops to 1 — Linux
//! re-checks readiness inside that `setsockopt` (`tcp_set_rcvlowat` calls
//! `tcp_data_ready`), so whatever is queued is read at once. A read after
//! a wait that ran out and found less than [`SLOW_READ`] bytes means the
//! stream slowed down: the policy disarms and reads go back to immediate.
//! The added latency is therefore bounded by the wait (3 ms plus the timer's
//! 1 ms granularity) and is paid only while the stream is busy; a stream of
//! a few thousand rows per second never arms.
//!
//! Linux grows the receive buffer to fit the mark when it is set
//! (`tcp_set_rcvlowat`), and makes the socket readable early anyway under
//! memory pressure or when the window falls below one segment, so the mark
//! never holds back more than the buffer can take.
//!
//! Tried and rejected (measured, 2026-12): fixing a small `SO_RCVBUF` so the
//! window closes sooner, and toggling `TCP_WINDOW_CLAMP`. Both sometimes
//! make a one-row-transaction catch-up faster than PostgreSQL's own apply,
//! and both sometimes stall it for minutes: on loopback the receive MSS is
//! 64 KB, a buffer near that size advertises a zero window after every read
//! (`__tcp_select_window` rounds free space below one MSS down to 0), and
//! the sender waits for its persist timer. A 32 KB buffer stalled 100,000
//! rows to 1,399 rows/s. Autotuning stays on.
//!
//! The wait does not close the receive window (autotuning keeps it open),
//! so the walsender still sends most messages as their own packets; what
//! it saves is the wakeups, and Sluice saves most of its reads.
//!
//! Only TCP sockets are tuned (TLS included: the option applies to the
//! encrypted bytes). A Unix socket is read as soon as a byte arrives.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Reads closer together than this count as a busy stream.
const FAST_GAP: Duration = Duration::from_micros(250);
/// Busy reads in a row before coalescing starts.
const FAST_READS_TO_ARM: u32 = 16;
/// `SO_RCVLOWAT` while armed.
pub(crate) const LOW_WATER: usize = 256 * 1024;
/// The longest a read waits for [`LOW_WATER`] bytes.
pub(crate) const GATHER_WAIT: Duration = Duration::from_millis(3);
/// A read after a wait that ran out and found less than this: the stream slowed down.
const SLOW_READ: usize = 4 * 1024;

/// How the next read runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadPlan {
    /// Return whatever is queued, or wait for the first byte.
    Immediate,
    /// Wait for [`LOW_WATER`] bytes, at most this long.
    Gather(Duration),
}

/// When to gather: a pure state machine, fed with read times and sizes.
#[derive(Debug, Default)]
pub(crate) struct ReadPolicy {
    fast_reads: u32,
    last_read: Option<Instant>,
    armed: bool,
}

impl ReadPolicy {
    /// A policy already armed, as after a burst.
    #[cfg(test)]
    pub(crate) fn armed() -> ReadPolicy {
        ReadPolicy { fast_reads: FAST_READS_TO_ARM, last_read: None, armed: true }
    }

    pub(crate) fn plan(&self) -> ReadPlan {
        if self.armed { ReadPlan::Gather(GATHER_WAIT) } else { ReadPlan::Immediate }
    }

    /// Records a read of `bytes` that ended at `now` (`waited_out`: a
    /// gathering wait ran out before it) and returns the low-water mark the
    /// socket needs for the next read.
    pub(crate) fn after_read(&mut self, now: Instant, bytes: usize, waited_out: bool) -> usize {
        let fast = self.last_read.is_some_and(|last| now.saturating_duration_since(last) < FAST_GAP);
        self.last_read = Some(now);
        if self.armed {
            if waited_out && bytes < SLOW_READ {
                self.armed = false;
                self.fast_reads = 0;
            }
        } else if fast {
            self.fast_reads += 1;
            if self.fast_reads >= FAST_READS_TO_ARM {
                self.armed = true;
            }
        } else {
            self.fast_reads = 0;
        }
        if self.armed { LOW_WATER } else { 1 }
    }
}

/// The socket option the policy drives. Holds the raw descriptor of a
/// socket owned by the same `FrameReader`'s stream, so it lives exactly as
/// long as the socket.
#[derive(Debug)]
pub(crate) struct SocketTuning {
    fd: RawFd,
    low_water: usize,
}

impl SocketTuning {
    /// `fd` must be a connected TCP socket that outlives this value.
    pub(crate) fn new(fd: RawFd) -> SocketTuning {
        SocketTuning { fd, low_water: 1 }
    }

    /// Sets `SO_RCVLOWAT`, when it changes.
    pub(crate) fn set_low_water(&mut self, low_water: usize) -> std::io::Result<()> {
        if low_water != self.low_water {
            os::set_int_option(self.fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT, low_water)?;
            self.low_water = low_water;
        }
        Ok(())
    }
}

/// The system call, with the only `unsafe` of the crate: socket2 and rustix
/// do not expose `SO_RCVLOWAT`.
#[allow(unsafe_code)]
mod os {
    use std::io;
    use std::os::fd::RawFd;

    pub(super) fn set_int_option(fd: RawFd, level: libc::c_int, name: libc::c_int, value: usize) -> io::Result<()> {
        let value = libc::c_int::try_from(value).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `value` is a live c_int and the length passed is its size.
        // `fd` belongs to the stream that the same `FrameReader` owns (the
        // invariant of `SocketTuning::new`), so it is open and is that socket.
        let result = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&raw const value).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    #[cfg(test)]
    pub(super) fn get_int_option(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<usize> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `len` are live and `len` is `value`'s size.
        let result =
            unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast::<libc::c_void>(), &raw mut len) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        usize::try_from(value).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy_reads(policy: &mut ReadPolicy, start: Instant, count: u32) -> (Instant, usize) {
        let mut now = start;
        let mut low_water = 1;
        for _ in 0..count {
            now += Duration::from_micros(50);
            low_water = policy.after_read(now, 300, false);
        }
        (now, low_water)
    }

    #[test]
    fn a_busy_stream_arms_after_enough_close_reads() {
        let mut policy = ReadPolicy::default();
        let (_, low_water) = busy_reads(&mut policy, Instant::now(), FAST_READS_TO_ARM);
        assert_eq!(policy.plan(), ReadPlan::Immediate, "the first read has no gap, so one more is needed");
        assert_eq!(low_water, 1);
        let mut policy = ReadPolicy::default();
        let (_, low_water) = busy_reads(&mut policy, Instant::now(), FAST_READS_TO_ARM + 1);
        assert_eq!(policy.plan(), ReadPlan::Gather(GATHER_WAIT));
        assert_eq!(low_water, LOW_WATER);
    }

    #[test]
    fn a_slow_read_in_between_restarts_the_count() {
        let mut policy = ReadPolicy::default();
        let (now, _) = busy_reads(&mut policy, Instant::now(), FAST_READS_TO_ARM - 1);
        assert_eq!(policy.after_read(now + Duration::from_millis(2), 300, false), 1);
        let (_, low_water) = busy_reads(&mut policy, now + Duration::from_millis(2), FAST_READS_TO_ARM - 1);
        assert_eq!((low_water, policy.plan()), (1, ReadPlan::Immediate));
    }

    #[test]
    fn a_stream_of_a_few_thousand_rows_per_second_never_arms() {
        let mut policy = ReadPolicy::default();
        let mut now = Instant::now();
        for _ in 0..1000 {
            now += Duration::from_micros(500);
            assert_eq!(policy.after_read(now, 200, false), 1);
        }
        assert_eq!(policy.plan(), ReadPlan::Immediate);
    }

    #[test]
    fn an_armed_policy_stays_armed_while_waits_still_find_plenty() {
        let mut policy = ReadPolicy::default();
        let (mut now, _) = busy_reads(&mut policy, Instant::now(), FAST_READS_TO_ARM + 1);
        for _ in 0..100 {
            now += Duration::from_millis(2);
            assert_eq!(policy.after_read(now, SLOW_READ, true), LOW_WATER);
            now += Duration::from_micros(10);
            assert_eq!(policy.after_read(now, LOW_WATER, false), LOW_WATER);
        }
        assert_eq!(policy.plan(), ReadPlan::Gather(GATHER_WAIT));
    }

    #[test]
    fn a_wait_that_runs_out_on_a_trickle_disarms() {
        let mut policy = ReadPolicy::default();
        let (now, _) = busy_reads(&mut policy, Instant::now(), FAST_READS_TO_ARM + 1);
        assert_eq!(policy.after_read(now + Duration::from_millis(2), SLOW_READ - 1, true), 1);
        assert_eq!(policy.plan(), ReadPlan::Immediate);
        // And it needs a full run of busy reads to arm again.
        let (_, low_water) = busy_reads(&mut policy, now + Duration::from_millis(2), FAST_READS_TO_ARM - 1);
        assert_eq!(low_water, 1);
    }

    #[test]
    fn the_low_water_mark_reaches_a_real_tcp_socket_and_comes_back_to_one() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        let fd = client.as_raw_fd();
        let mut tuning = SocketTuning::new(fd);
        tuning.set_low_water(LOW_WATER).unwrap();
        assert_eq!(os::get_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT).unwrap(), LOW_WATER);
        tuning.set_low_water(1).unwrap();
        assert_eq!(os::get_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT).unwrap(), 1);
    }
}
