//! A WebSocket client of the simulator's feed.

use std::time::{Duration, Instant};

use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};

use tickvault::kite::client::Session;
use tickvault::sim::SimHandle;

/// A WebSocket client of the simulator's feed.
pub struct Ws {
    framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
}

/// What arrived on the socket.
#[derive(Debug)]
pub enum Received {
    /// A binary message.
    Binary(Vec<u8>),
    /// A text message.
    Text(String),
    /// A close frame.
    Close,
    /// The connection ended without a close frame.
    Ended,
    /// Nothing within the wait.
    Timeout,
}

impl Ws {
    /// Opens `ws://…/ws?api_key=…&access_token=…`; the error is the upgrade's HTTP status.
    pub async fn connect(sim: &SimHandle, api_key: &str, token: &str) -> Result<Ws, u16> {
        let url = format!("{}/ws?api_key={api_key}&access_token={token}", sim.ws_url());
        match awc::Client::new()
            .ws(url)
            .max_frame_size(16 << 20)
            .connect()
            .await
        {
            Ok((_, framed)) => Ok(Ws { framed }),
            Err(awc::error::WsClientError::InvalidResponseStatus(s)) => Err(s.as_u16()),
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    /// Connects with a session's token.
    pub async fn open(sim: &SimHandle, session: &Session) -> Ws {
        use secrecy::ExposeSecret;
        Ws::connect(sim, &session.api_key, session.access_token.expose_secret())
            .await
            .expect("upgrade accepted")
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        self.framed
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send");
    }

    /// Starts the close handshake.
    pub async fn close(&mut self) {
        self.framed
            .send(Message::Close(None))
            .await
            .expect("send close");
    }

    /// The next data message, answering nothing else; `Timeout` if none within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Received {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => return Received::Timeout,
                Ok(None) | Ok(Some(Err(_))) => return Received::Ended,
                Ok(Some(Ok(Frame::Binary(b)))) => return Received::Binary(b.to_vec()),
                Ok(Some(Ok(Frame::Text(t)))) => {
                    return Received::Text(String::from_utf8_lossy(&t).into_owned());
                }
                Ok(Some(Ok(Frame::Close(_)))) => return Received::Close,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Decodes into `ticks` everything that arrives before the next heartbeat. After an
    /// unsubscribe, that is everything the server sent before it (messages arrive in order).
    pub async fn ticks_until_heartbeat(&mut self, ticks: &mut Vec<tickvault::kite::Tick>) {
        loop {
            match self.next(Duration::from_secs(3)).await {
                Received::Binary(b) if b.len() == 1 => return,
                Received::Binary(b) => {
                    tickvault::kite::decode_into(&b, ticks)
                        .expect("the simulator sends valid frames");
                }
                other => panic!("expected ticks then a heartbeat, got {other:?}"),
            }
        }
    }

    /// Every tick that arrives within `wait` (text messages are returned too).
    pub async fn ticks_for(&mut self, wait: Duration) -> (Vec<tickvault::kite::Tick>, Vec<String>) {
        let deadline = Instant::now() + wait;
        let mut ticks = Vec::new();
        let mut texts = Vec::new();
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Received::Binary(b) => {
                    tickvault::kite::decode_into(&b, &mut ticks)
                        .expect("the simulator sends valid frames");
                }
                Received::Text(t) => texts.push(t),
                _ => return (ticks, texts),
            }
        }
    }
}
