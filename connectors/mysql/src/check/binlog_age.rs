//! When a binlog file was created, read from the file itself: the header
//! timestamp of its first event (the format description event at offset 4)
//! is the file's creation time. The server has no other way to tell a
//! client how old a binlog file is.
//!
//! The read is a binlog dump with `BINLOG_DUMP_NON_BLOCK` (the server ends
//! the stream instead of waiting for new events) and server id 0, as
//! `mysqlbinlog` uses: a dump with id 0 never displaces a replica or a
//! running Sluice pipeline (the server only kills an older dump connection
//! of the same non-zero id). It stops after the first event that dates the file.

use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::BinlogStreamRequest;

use crate::connect::ConnectSettings;
use crate::error::MySqlError;

/// `FORMAT_DESCRIPTION_EVENT`.
const FORMAT_DESCRIPTION: u8 = 15;
/// Events read at most before giving up (a fake ROTATE comes first).
const MAX_EVENTS: usize = 8;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The creation time of binlog `file`, in seconds since 1970 (server clock).
pub(super) async fn created_at(settings: &ConnectSettings, file: &str) -> Result<Option<u32>, MySqlError> {
    let conn = settings.connect_with(&|builder| builder).await?;
    let request = BinlogStreamRequest::new(0).with_filename(file.as_bytes()).with_pos(4).with_non_blocking();
    let context = || format!("reading the start of binlog {file}");
    let mut stream = conn.get_binlog_stream(request).await.map_err(|e| MySqlError::driver(context(), e))?;
    let mut created = None;
    for _ in 0..MAX_EVENTS {
        let next = tokio::time::timeout(READ_TIMEOUT, stream.next()).await;
        let Ok(Some(event)) = next else {
            break;
        };
        let event = event.map_err(|e| MySqlError::driver(context(), e))?;
        let header = event.header();
        if header.event_type_raw() == FORMAT_DESCRIPTION && header.timestamp() != 0 {
            created = Some(header.timestamp());
            break;
        }
    }
    let _ = stream.close().await;
    Ok(created)
}
