//! The replication connection's wire layer: framing, startup and simple
//! queries, written on `postgres-protocol` because tokio-postgres cannot
//! open a `replication=database` session nor read CopyBoth.
//!
//! A backend message is a 1-byte tag and a big-endian u32 length that counts
//! itself but not the tag, then the body. `W` (CopyBothResponse), `d`
//! (CopyData) and `c` (CopyDone) are handled here; other tags go to
//! `postgres_protocol::message::backend::Message::parse`, which does not know
//! `W`. A length above [`MAX_FRAME_LEN`] is a protocol error, never an
//! allocation, and the buffer grows only as bytes actually arrive.
//!
//! Replication commands (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT,
//! START_REPLICATION) go through the simple query protocol (`Q`).

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use bytes::{Buf, Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_postgres::config::Host;

use super::coalesce::{LOW_WATER, ReadPlan, ReadPolicy, SocketTuning};
use crate::connect::{ConnectSettings, SESSION_OPTIONS};
use crate::error::PostgresError;
use crate::tls::MaybeTls;

/// Largest backend message accepted (PostgreSQL itself caps a value at 1 GB).
pub(crate) const MAX_FRAME_LEN: usize = 1 << 30;

/// How much the read buffer may grow per read while a large frame arrives.
const READ_CHUNK: usize = 64 * 1024;

pub(crate) const COPY_BOTH_RESPONSE: u8 = b'W';
pub(crate) const COPY_DATA: u8 = b'd';
pub(crate) const COPY_DONE: u8 = b'c';
const ERROR_RESPONSE: u8 = b'E';
const NOTICE_RESPONSE: u8 = b'N';
const PARAMETER_STATUS: u8 = b'S';

/// Any byte stream the connection can run over (TCP, Unix socket, TLS).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub(crate) type BoxedStream = Box<dyn ByteStream>;

/// One backend message: tag and body (without the length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) tag: u8,
    pub(crate) body: Bytes,
}

impl Frame {
    /// Parses a non-copy message with postgres-protocol.
    pub(crate) fn parse(&self, what: &'static str) -> Result<Message, PostgresError> {
        let len = u32::try_from(self.body.len() + 4)
            .map_err(|_| PostgresError::Protocol { what, reason: "message too long".into() })?;
        let mut raw = BytesMut::with_capacity(self.body.len() + 5);
        raw.extend_from_slice(&[self.tag]);
        raw.extend_from_slice(&len.to_be_bytes());
        raw.extend_from_slice(&self.body);
        match Message::parse(&mut raw) {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(PostgresError::Protocol { what, reason: "truncated message".into() }),
            Err(error) => Err(PostgresError::Protocol { what, reason: format!("unparsable message: {error}") }),
        }
    }
}

/// Splits frames off a byte stream.
pub(crate) struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    endpoint: String,
    /// Set once streaming starts on a TCP socket (`coalesce.rs`).
    coalescing: Option<(ReadPolicy, SocketTuning)>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(reader: R, endpoint: String) -> FrameReader<R> {
        FrameReader { reader, buf: BytesMut::with_capacity(8 * 1024), endpoint, coalescing: None }
    }

    /// Coalesces reads of the TCP socket `fd`, which the stream this reader
    /// reads from must own (see `coalesce.rs`).
    pub(crate) fn coalesce_reads(&mut self, fd: RawFd) {
        self.coalescing = Some((ReadPolicy::default(), SocketTuning::new(fd)));
    }

    /// Reads once into the buffer, gathering when the policy says so.
    async fn read_more(&mut self, wanted: usize) -> io::Result<usize> {
        let plan = self.coalescing.as_ref().map_or(ReadPlan::Immediate, |(policy, _)| policy.plan());
        let mut waited_out = false;
        let read = match plan {
            ReadPlan::Immediate => {
                self.buf.reserve(wanted);
                self.reader.read_buf(&mut self.buf).await?
            }
            ReadPlan::Gather(wait) => {
                // Room for a whole gathered batch, so one read takes it.
                self.buf.reserve(wanted.max(LOW_WATER));
                match tokio::time::timeout(wait, self.reader.read_buf(&mut self.buf)).await {
                    Ok(read) => read?,
                    Err(_elapsed) => {
                        // Cancelling the read loses nothing: read_buf copies
                        // only when it completes. With the mark back at 1 the
                        // kernel makes the socket readable at once if
                        // anything is queued. A mark that cannot be lowered
                        // would stall the stream, so that failure ends it
                        // (the engine reconnects).
                        waited_out = true;
                        if let Some((_, tuning)) = &mut self.coalescing {
                            tuning.set_low_water(1)?;
                        }
                        self.reader.read_buf(&mut self.buf).await?
                    }
                }
            }
        };
        if let Some((policy, tuning)) = &mut self.coalescing {
            let low_water = policy.after_read(std::time::Instant::now(), read, waited_out);
            if let Err(error) = tuning.set_low_water(low_water) {
                if low_water == 1 {
                    return Err(error);
                }
                // Raising the mark failed: it is still 1, so reads stay
                // immediate and correct, only slower.
                tracing::warn!(endpoint = %self.endpoint, %error, "replication socket: read coalescing turned off");
                self.coalescing = None;
            }
        }
        Ok(read)
    }

    /// The next frame; an error when the stream ends or breaks.
    pub(crate) async fn next(&mut self) -> Result<Frame, PostgresError> {
        loop {
            if let Some(frame) = split_frame(&mut self.buf)? {
                return Ok(frame);
            }
            let wanted = match frame_len(&self.buf)? {
                Some(total) => (total - self.buf.len()).min(READ_CHUNK),
                None => READ_CHUNK,
            };
            let read = self
                .read_more(wanted)
                .await
                .map_err(|source| PostgresError::Io { endpoint: self.endpoint.clone(), source })?;
            if read == 0 {
                return Err(PostgresError::Io {
                    endpoint: self.endpoint.clone(),
                    source: io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"),
                });
            }
        }
    }
}

/// Total length (tag included) of the frame at the start of `buf`, once its
/// header is there.
fn frame_len(buf: &[u8]) -> Result<Option<usize>, PostgresError> {
    let Some(header) = buf.get(..5) else { return Ok(None) };
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len < 4 {
        return Err(PostgresError::Protocol {
            what: "message header",
            reason: format!("length {len} is shorter than the length field"),
        });
    }
    if len > MAX_FRAME_LEN {
        return Err(PostgresError::Protocol {
            what: "message header",
            reason: format!("length {len} exceeds the {MAX_FRAME_LEN}-byte limit"),
        });
    }
    Ok(Some(len + 1))
}

/// Takes one complete frame off the front of `buf`, if there is one.
pub(crate) fn split_frame(buf: &mut BytesMut) -> Result<Option<Frame>, PostgresError> {
    let Some(total) = frame_len(buf)? else { return Ok(None) };
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    let tag = frame[0];
    frame.advance(5);
    Ok(Some(Frame { tag, body: frame.freeze() }))
}

/// Writes frontend messages.
pub(crate) struct FrameWriter<W> {
    writer: W,
    buf: BytesMut,
    endpoint: String,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub(crate) fn new(writer: W, endpoint: String) -> FrameWriter<W> {
        FrameWriter { writer, buf: BytesMut::with_capacity(1024), endpoint }
    }

    /// Encodes one or more messages with `encode` and sends them.
    pub(crate) async fn send(
        &mut self,
        encode: impl FnOnce(&mut BytesMut) -> io::Result<()>,
    ) -> Result<(), PostgresError> {
        self.buf.clear();
        encode(&mut self.buf).map_err(|source| PostgresError::Io { endpoint: self.endpoint.clone(), source })?;
        let io_error = |source| PostgresError::Io { endpoint: self.endpoint.clone(), source };
        self.writer.write_all(&self.buf).await.map_err(io_error)?;
        self.writer.flush().await.map_err(io_error)
    }
}

/// The fields of an ErrorResponse as a typed error.
pub(crate) fn server_error(body: &ErrorResponseBody, context: &str) -> PostgresError {
    let mut severity = String::from("ERROR");
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'V' => severity = value,
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    PostgresError::Server { context: context.to_owned(), severity, code, message }
}

/// A frame that must be an ErrorResponse (or anything else unexpected) as an error.
pub(crate) fn unexpected(frame: &Frame, context: &str) -> PostgresError {
    if frame.tag == ERROR_RESPONSE
        && let Ok(Message::ErrorResponse(body)) = frame.parse("ErrorResponse")
    {
        return server_error(&body, context);
    }
    PostgresError::Protocol {
        what: "replication connection",
        reason: format!("unexpected message '{}' during {context}", char::from(frame.tag)),
    }
}

/// The result rows of a simple query, as text (`None` for NULL).
pub(crate) type TextRows = Vec<Vec<Option<String>>>;

/// An authenticated `replication=database` session, before streaming.
pub(crate) struct ReplicationConnection {
    pub(crate) reader: FrameReader<ReadHalf<BoxedStream>>,
    pub(crate) writer: FrameWriter<WriteHalf<BoxedStream>>,
    pub(crate) endpoint: String,
    /// Major version from the `server_version` parameter (e.g. 15).
    pub(crate) server_major: u32,
    /// The TCP socket under the stream (`None` for a Unix socket), owned by
    /// `reader` and `writer`; for [`FrameReader::coalesce_reads`].
    pub(crate) tcp_fd: Option<RawFd>,
}

impl ReplicationConnection {
    /// Connects (TCP or Unix socket, TLS per `sslmode`), starts a
    /// replication session and authenticates.
    ///
    /// Startup parameters: `user`, `database`, `replication=database`
    /// (logical replication bound to one database, which also accepts
    /// simple SQL), `application_name`, `client_encoding=UTF8` (text values
    /// arrive in UTF-8 whatever the server encoding), and `options` carrying
    /// [`SESSION_OPTIONS`], which the text forms decoded in `types.rs` depend on.
    pub(crate) async fn open(settings: &ConnectSettings) -> Result<ReplicationConnection, PostgresError> {
        let (stream, tcp_fd) = open_stream(settings).await?;
        let (read, write) = tokio::io::split(stream);
        let endpoint = settings.endpoint.clone();
        let mut connection = ReplicationConnection {
            reader: FrameReader::new(read, endpoint.clone()),
            writer: FrameWriter::new(write, endpoint.clone()),
            endpoint,
            server_major: 0,
            tcp_fd,
        };
        let config = &settings.config;
        let user = config.get_user().ok_or_else(|| PostgresError::Config {
            setting: "url".into(),
            message: "The PostgreSQL URL names no user; write postgres://user@host/database".into(),
        })?;
        let database = config.get_dbname().unwrap_or(user);
        let application_name = config.get_application_name().unwrap_or("sluice");
        let options = config.get_options().unwrap_or(SESSION_OPTIONS);
        let params = [
            ("user", user),
            ("database", database),
            ("replication", "database"),
            ("application_name", application_name),
            ("client_encoding", "UTF8"),
            ("options", options),
        ];
        connection.writer.send(|buf| frontend::startup_message(params.iter().copied(), buf)).await?;
        super::auth::authenticate(&mut connection, user, config.get_password()).await?;
        connection.wait_ready("connection startup").await?;
        Ok(connection)
    }

    /// Reads until ReadyForQuery, remembering parameters; errors end it.
    async fn wait_ready(&mut self, context: &str) -> Result<(), PostgresError> {
        loop {
            let frame = self.reader.next().await?;
            match frame.tag {
                PARAMETER_STATUS => self.note_parameter(&frame)?,
                NOTICE_RESPONSE => {}
                b'K' => {}
                b'Z' => return Ok(()),
                _ => return Err(unexpected(&frame, context)),
            }
        }
    }

    fn note_parameter(&mut self, frame: &Frame) -> Result<(), PostgresError> {
        if let Message::ParameterStatus(body) = frame.parse("ParameterStatus")?
            && body.name().ok() == Some("server_version")
            && let Ok(version) = body.value()
        {
            self.server_major =
                version.split(|c: char| !c.is_ascii_digit()).next().and_then(|m| m.parse().ok()).unwrap_or(0);
        }
        Ok(())
    }

    /// Runs a simple query and returns its rows as text. The caller's SQL
    /// must quote identifiers; replication commands take no parameters.
    pub(crate) async fn simple_query(&mut self, sql: &str, context: &str) -> Result<TextRows, PostgresError> {
        self.writer.send(|buf| frontend::query(sql, buf)).await?;
        let mut rows = Vec::new();
        let mut failure = None;
        loop {
            let frame = self.reader.next().await?;
            match frame.tag {
                b'T' | b'C' | b'I' | NOTICE_RESPONSE => {}
                PARAMETER_STATUS => self.note_parameter(&frame)?,
                b'D' => {
                    if let Message::DataRow(row) = frame.parse("DataRow")? {
                        let mut values = Vec::new();
                        let mut ranges = row.ranges();
                        loop {
                            match ranges.next() {
                                Ok(Some(Some(range))) => {
                                    let bytes = row.buffer().get(range).ok_or_else(|| PostgresError::Protocol {
                                        what: "DataRow",
                                        reason: "value outside the message".into(),
                                    })?;
                                    values.push(Some(String::from_utf8_lossy(bytes).into_owned()));
                                }
                                Ok(Some(None)) => values.push(None),
                                Ok(None) => break,
                                Err(error) => {
                                    return Err(PostgresError::Protocol { what: "DataRow", reason: error.to_string() });
                                }
                            }
                        }
                        rows.push(values);
                    }
                }
                ERROR_RESPONSE => failure = Some(unexpected(&frame, context)),
                b'Z' => {
                    return match failure {
                        Some(error) => Err(error),
                        None => Ok(rows),
                    };
                }
                _ => return Err(unexpected(&frame, context)),
            }
        }
    }

    /// Sends a command that answers with CopyBothResponse (START_REPLICATION)
    /// and returns once the copy mode has begun.
    pub(crate) async fn start_copy_both(&mut self, sql: &str, context: &str) -> Result<(), PostgresError> {
        self.writer.send(|buf| frontend::query(sql, buf)).await?;
        loop {
            let frame = self.reader.next().await?;
            match frame.tag {
                COPY_BOTH_RESPONSE => return Ok(()),
                NOTICE_RESPONSE => {}
                PARAMETER_STATUS => self.note_parameter(&frame)?,
                _ => return Err(unexpected(&frame, context)),
            }
        }
    }
}

/// Opens the socket to the first reachable host and negotiates TLS; returns
/// the TCP socket's descriptor too (none for a Unix socket).
async fn open_stream(settings: &ConnectSettings) -> Result<(BoxedStream, Option<RawFd>), PostgresError> {
    let timeout = settings.config.get_connect_timeout().copied();
    let mut last_error = None;
    for (host, port) in settings.targets() {
        let endpoint = match &host {
            Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            Host::Unix(path) => format!("{}/.s.PGSQL.{port}", path.display()),
        };
        let attempt = async {
            match &host {
                Host::Tcp(name) => {
                    let tcp = TcpStream::connect((name.as_str(), port))
                        .await
                        .map_err(|source| PostgresError::Io { endpoint: endpoint.clone(), source })?;
                    let _ = tcp.set_nodelay(true);
                    let fd = tcp.as_raw_fd();
                    let tls =
                        crate::tls::upgrade(tcp, settings.tls.as_ref(), settings.tls_mode, name, &endpoint).await?;
                    Ok::<_, PostgresError>((boxed(tls), Some(fd)))
                }
                #[cfg(unix)]
                Host::Unix(path) => {
                    let socket = path.join(format!(".s.PGSQL.{port}"));
                    let unix = tokio::net::UnixStream::connect(&socket)
                        .await
                        .map_err(|source| PostgresError::Io { endpoint: endpoint.clone(), source })?;
                    // TLS is never used over a Unix socket (libpq neither).
                    Ok((Box::new(unix) as BoxedStream, None))
                }
            }
        };
        let result = match timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(PostgresError::Io {
                    endpoint: endpoint.clone(),
                    source: io::Error::new(io::ErrorKind::TimedOut, "connect_timeout elapsed"),
                }),
            },
            None => attempt.await,
        };
        match result {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                tracing::debug!(%endpoint, %error, "replication connection attempt failed");
                last_error = Some(error);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| PostgresError::Config {
        setting: "url".into(),
        message: "The PostgreSQL URL names no host".into(),
    }))
}

fn boxed<S: ByteStream + 'static>(stream: MaybeTls<S>) -> BoxedStream {
    Box::new(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn frames_are_split_only_when_complete() {
        let mut bytes = frame_bytes(b'd', b"hello");
        bytes.extend_from_slice(&frame_bytes(b'c', b""));
        let mut buf = BytesMut::from(&bytes[..7]);
        assert_eq!(split_frame(&mut buf).unwrap(), None);
        buf.extend_from_slice(&bytes[7..]);
        assert_eq!(split_frame(&mut buf).unwrap(), Some(Frame { tag: b'd', body: Bytes::from_static(b"hello") }));
        assert_eq!(split_frame(&mut buf).unwrap(), Some(Frame { tag: b'c', body: Bytes::new() }));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_length_over_the_limit_is_a_protocol_error_not_an_allocation() {
        let mut buf = BytesMut::from(&[b'd', 0xFF, 0xFF, 0xFF, 0xFF][..]);
        assert!(matches!(split_frame(&mut buf), Err(PostgresError::Protocol { .. })));
        let mut buf = BytesMut::from(&[b'd', 0, 0, 0, 3][..]);
        assert!(matches!(split_frame(&mut buf), Err(PostgresError::Protocol { .. })));
    }

    #[tokio::test]
    async fn reader_reassembles_frames_across_reads_and_reports_eof() {
        let mut bytes = frame_bytes(b'd', &vec![7u8; 200_000]);
        bytes.extend_from_slice(&frame_bytes(b'Z', b"I"));
        let (mut client, server) = tokio::io::duplex(1024);
        let writer = tokio::spawn(async move {
            client.write_all(&bytes).await.unwrap();
        });
        let mut reader = FrameReader::new(server, "test:1".into());
        let first = reader.next().await.unwrap();
        assert_eq!((first.tag, first.body.len()), (b'd', 200_000));
        let second = reader.next().await.unwrap();
        assert_eq!(second, Frame { tag: b'Z', body: Bytes::from_static(b"I") });
        writer.await.unwrap();
        assert!(matches!(reader.next().await, Err(PostgresError::Io { .. })));
    }

    #[test]
    fn error_response_becomes_a_server_error_with_code() {
        let mut body = Vec::new();
        for (field, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "57P01"), (b'M', "terminating connection")] {
            body.push(field);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        let frame = Frame { tag: b'E', body: Bytes::from(body) };
        match unexpected(&frame, "streaming") {
            PostgresError::Server { code, severity, message, .. } => {
                assert_eq!((code.as_str(), severity.as_str()), ("57P01", "FATAL"));
                assert_eq!(message, "terminating connection");
            }
            other => panic!("expected a server error, got {other:?}"),
        }
    }

    /// A sender that paces small frames like a busy walsender: one write
    /// (one packet, `TCP_NODELAY`) per frame, `gap` apart.
    fn send_paced(mut socket: std::net::TcpStream, frames: u32, gap: std::time::Duration) {
        use std::io::Write;
        socket.set_nodelay(true).unwrap();
        for n in 0..frames {
            socket.write_all(&frame_bytes(b'd', &n.to_be_bytes())).unwrap();
            let until = std::time::Instant::now() + gap;
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paced_burst_of_small_frames_arms_coalescing_and_arrives_whole_and_in_order() {
        use std::os::fd::AsRawFd;
        const BURST: u32 = 3_000;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let sender = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            send_paced(socket, BURST, std::time::Duration::from_micros(20));
        });
        let stream = TcpStream::connect(address).await.unwrap();
        let fd = stream.as_raw_fd();
        let mut reader = FrameReader::new(stream, "test:1".into());
        reader.coalesce_reads(fd);
        let mut armed_during_burst = false;
        let read_all = async {
            for n in 0..BURST {
                let frame = reader.next().await.unwrap();
                assert_eq!(frame.body, Bytes::copy_from_slice(&n.to_be_bytes()), "frames arrive whole and in order");
                let (policy, _) = reader.coalescing.as_ref().unwrap();
                armed_during_burst |= policy.plan() != ReadPlan::Immediate;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), read_all).await.expect("the whole burst arrives");
        sender.join().unwrap();
        assert!(armed_during_burst, "a frame every 20 µs is a busy stream");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_armed_reader_still_delivers_a_lone_frame_far_below_the_low_water_mark_and_disarms() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (armed, armed_signal) = std::sync::mpsc::channel::<()>();
        let (done, done_signal) = std::sync::mpsc::channel::<()>();
        let sender = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            armed_signal.recv().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
            send_paced(socket.try_clone().unwrap(), 1, std::time::Duration::ZERO);
            // Closing would make the socket readable whatever the mark.
            let _ = done_signal.recv();
            drop(socket);
        });
        let stream = TcpStream::connect(address).await.unwrap();
        let fd = stream.as_raw_fd();
        let mut reader = FrameReader::new(stream, "test:1".into());
        let mut tuning = SocketTuning::new(fd);
        tuning.set_low_water(LOW_WATER).unwrap();
        reader.coalescing = Some((ReadPolicy::armed(), tuning));
        armed.send(()).unwrap();
        // 9 bytes in one segment and the connection kept open: neither
        // memory pressure nor a FIN makes the kernel signal early, so only
        // lowering the mark after the bounded wait delivers the frame.
        let lone = tokio::time::timeout(std::time::Duration::from_secs(10), reader.next())
            .await
            .expect("a frame far below the low-water mark still arrives")
            .unwrap();
        assert_eq!(lone.body, Bytes::copy_from_slice(&0u32.to_be_bytes()));
        done.send(()).unwrap();
        sender.join().unwrap();
        let (policy, _) = reader.coalescing.as_ref().unwrap();
        assert_eq!(policy.plan(), ReadPlan::Immediate, "a small read after a wait that ran out disarms");
    }
}
