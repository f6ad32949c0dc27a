//! A TCP forwarder on 127.0.0.1 whose connections can go silent: they stay open but
//! stop carrying bytes either way, as when a network path dies without a FIN or RST
//! (a partition, a paused VM, a dropped NAT entry). Nothing tells either end; only a
//! request that goes unanswered does. Connections made after [`SilentProxy::silence`]
//! work again, like a reconnect over a healed route.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct SilentProxy {
    addr: SocketAddr,
    /// Bumped by `silence`: a connection accepted under an older generation is silent.
    generation: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl SilentProxy {
    /// Forwards every connection made to [`SilentProxy::addr`] to `target`.
    pub async fn start(target: SocketAddr) -> SilentProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let generation = Arc::new(AtomicU64::new(0));
        let gen = generation.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let born = gen.load(Ordering::SeqCst);
                let (client_r, client_w) = client.into_split();
                let (server_r, server_w) = server.into_split();
                tokio::spawn(forward(client_r, server_w, gen.clone(), born));
                tokio::spawn(forward(server_r, client_w, gen.clone(), born));
            }
        });
        SilentProxy {
            addr,
            generation,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every connection open now keeps its socket and drops whatever it reads.
    pub fn silence(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for SilentProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies `from` to `to` until either closes; once the connection's generation is
/// past, reads are discarded (so the sender never sees back-pressure either).
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    generation: Arc<AtomicU64>,
    born: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if generation.load(Ordering::SeqCst) != born {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
