//! Authentication of the replication connection: trust, cleartext password,
//! MD5 and SCRAM-SHA-256.
//!
//! After the startup message the server answers Authentication requests
//! until AuthenticationOk (or an ErrorResponse). SCRAM runs without channel
//! binding (gs2 header `n,,`: "client does not support it"), which servers
//! accept also over TLS. The password never appears in an error.

use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::wire::{ReplicationConnection, server_error};
use crate::error::PostgresError;

/// Runs the authentication exchange until AuthenticationOk.
pub(crate) async fn authenticate(
    connection: &mut ReplicationConnection,
    user: &str,
    password: Option<&[u8]>,
) -> Result<(), PostgresError> {
    let endpoint = connection.endpoint.clone();
    let auth_error = |reason: &str| PostgresError::Auth { endpoint: endpoint.clone(), reason: reason.to_owned() };
    let need_password = || {
        password.ok_or_else(|| {
            auth_error(
                "the server asks for a password and the URL has none; add it as postgres://user:password@host/db",
            )
        })
    };
    let mut scram: Option<ScramSha256> = None;
    loop {
        let frame = connection.reader.next().await?;
        match frame.parse("authentication request")? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                let password = need_password()?;
                connection.writer.send(|buf| frontend::password_message(password, buf)).await?;
            }
            Message::AuthenticationMd5Password(body) => {
                let password = need_password()?;
                let hash = md5_hash(user.as_bytes(), password, body.salt());
                connection.writer.send(|buf| frontend::password_message(hash.as_bytes(), buf)).await?;
            }
            Message::AuthenticationSasl(body) => {
                let password = need_password()?;
                let mut offers_scram = false;
                let mut mechanisms = body.mechanisms();
                while let Some(mechanism) = fallible_iterator::FallibleIterator::next(&mut mechanisms)
                    .map_err(|_| auth_error("the server's SASL mechanism list is malformed"))?
                {
                    offers_scram |= mechanism == SCRAM_SHA_256;
                }
                if !offers_scram {
                    return Err(auth_error("the server offers no SASL mechanism Sluice supports (SCRAM-SHA-256)"));
                }
                let exchange = ScramSha256::new(password, ChannelBinding::unsupported());
                connection
                    .writer
                    .send(|buf| frontend::sasl_initial_response(SCRAM_SHA_256, exchange.message(), buf))
                    .await?;
                scram = Some(exchange);
            }
            Message::AuthenticationSaslContinue(body) => {
                let exchange = scram.as_mut().ok_or_else(|| auth_error("SASL continuation without a SASL start"))?;
                exchange.update(body.data()).map_err(|_| auth_error("the server's SCRAM challenge is malformed"))?;
                connection.writer.send(|buf| frontend::sasl_response(exchange.message(), buf)).await?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let exchange = scram.as_mut().ok_or_else(|| auth_error("SASL final message without a SASL start"))?;
                exchange.finish(body.data()).map_err(|_| {
                    auth_error("the server's SCRAM signature does not verify; is this the right server?")
                })?;
            }
            Message::ErrorResponse(body) => {
                let error = server_error(&body, "authentication");
                if let PostgresError::Server { code, .. } = &error
                    && code.starts_with("28")
                {
                    return Err(auth_error(
                        "the server refused the user name or password (SQLSTATE 28xxx); check the URL and pg_hba.conf, \
                         which must allow a \"replication\" connection to the database",
                    ));
                }
                return Err(error);
            }
            Message::NoticeResponse(_) | Message::ParameterStatus(_) => {}
            _ => {
                return Err(auth_error(
                    "the server asks for an authentication method Sluice does not support (GSS, SSPI, Kerberos)",
                ));
            }
        }
    }
}
