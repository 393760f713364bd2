//! A loopback TCP proxy in front of an emulator that breaks connections on demand: at random
//! (a flaky network: half the broken requests never reach the emulator, the other half are
//! applied and only their reply is lost, which is what makes idempotent writes matter), or
//! for good after a number of requests (an endpoint that disappears), or held back until
//! released (a write abandoned by its caller that still lands later).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

struct Faults {
    /// Chance that a chunk sent towards the emulator kills its connection instead.
    reset_chance: Mutex<f64>,
    /// Requests let through before the endpoint "disappears" (u64::MAX: never).
    requests_left: AtomicU64,
    down: AtomicBool,
    seed: AtomicU64,
    /// Requests containing these bytes are held until released.
    hold: Mutex<Option<Vec<u8>>>,
    /// Requests held so far.
    held: watch::Sender<u64>,
    /// Whether held requests may go on.
    released: watch::Sender<bool>,
    /// Released requests the emulator has answered.
    answered: watch::Sender<u64>,
}

/// A running proxy; faults are switched on and off through its methods.
pub struct Proxy {
    /// The proxy's own `http://127.0.0.1:PORT`, to give clients instead of the emulator's.
    pub endpoint: String,
    faults: Arc<Faults>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream` (`http://HOST:PORT`
    /// or `HOST:PORT`), breaking nothing until told to; panics if it cannot bind.
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let faults = Arc::new(Faults {
            requests_left: AtomicU64::new(u64::MAX),
            reset_chance: Mutex::default(),
            down: AtomicBool::default(),
            seed: AtomicU64::default(),
            hold: Mutex::default(),
            held: watch::Sender::new(0),
            released: watch::Sender::new(false),
            answered: watch::Sender::new(0),
        });
        let shared = faults.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let faults = shared.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if faults.down.load(Ordering::SeqCst) {
                        return; // dropping the socket refuses service
                    }
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        pipe(client, server, faults).await;
                    }
                });
            }
        });
        Proxy { endpoint, faults }
    }

    /// Breaks each forwarded request with this chance, drawing from a seeded generator.
    pub fn flaky(&self, chance: f64, seed: u64) {
        *self.faults.reset_chance.lock().expect("lock") = chance;
        self.faults.seed.store(seed, Ordering::SeqCst);
    }

    /// Lets `requests` more requests through, then fails every connection.
    pub fn disappear_after(&self, requests: u64) {
        self.faults.requests_left.store(requests, Ordering::SeqCst);
    }

    /// Holds back every request containing `pattern` until [`Proxy::release`].
    pub fn hold_requests_containing(&self, pattern: &[u8]) {
        *self.faults.hold.lock().expect("lock") = Some(pattern.to_vec());
        self.faults.released.send_replace(false);
    }

    /// Waits until `count` requests are held.
    pub async fn held(&self, count: u64) {
        let mut held = self.faults.held.subscribe();
        let _ = held.wait_for(|n| *n >= count).await;
    }

    /// Lets the held requests go on to the emulator, and waits until it answered `count`.
    pub async fn release(&self, count: u64) {
        *self.faults.hold.lock().expect("lock") = None;
        let mut answered = self.faults.answered.subscribe();
        self.faults.released.send_replace(true);
        let _ = answered.wait_for(|n| *n >= count).await;
    }

    /// Back to a healthy endpoint.
    pub fn heal(&self) {
        *self.faults.reset_chance.lock().expect("lock") = 0.0;
        self.faults.requests_left.store(u64::MAX, Ordering::SeqCst);
        self.faults.down.store(false, Ordering::SeqCst);
    }
}

async fn pipe(mut client: TcpStream, mut server: TcpStream, faults: Arc<Faults>) {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let lose_reply = AtomicBool::new(false);
    let was_held = AtomicBool::new(false);
    let upstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if held_back(&faults, &buffer[..n]) {
                faults.held.send_modify(|n| *n += 1);
                let mut released = faults.released.subscribe();
                let _ = released.wait_for(|r| *r).await;
                if server_write.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
                was_held.store(true, Ordering::SeqCst);
                // Its caller may be gone: wait for the emulator's answer all the same.
                std::future::pending::<()>().await;
            }
            if request_starts(&buffer[..n]) {
                match admit(&faults) {
                    Fate::Deliver => {}
                    // The connection dies: the request never reaches the emulator.
                    Fate::Drop => return,
                    Fate::LoseReply => lose_reply.store(true, Ordering::SeqCst),
                }
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if was_held.load(Ordering::SeqCst) {
                faults.answered.send_modify(|n| *n += 1);
                return;
            }
            if lose_reply.load(Ordering::SeqCst) {
                return; // applied by the emulator, but the caller never hears so
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

/// Whether `chunk` is to be held back (it contains the pattern being held).
fn held_back(faults: &Faults, chunk: &[u8]) -> bool {
    let hold = faults.hold.lock().expect("lock");
    hold.as_ref().is_some_and(|pattern| {
        chunk
            .windows(pattern.len())
            .any(|w| w == pattern.as_slice())
    })
}

fn request_starts(chunk: &[u8]) -> bool {
    chunk.starts_with(b"POST ") || chunk.starts_with(b"GET ") || chunk.starts_with(b"PUT ")
}

/// What happens to a request.
enum Fate {
    Deliver,
    Drop,
    LoseReply,
}

fn admit(faults: &Faults) -> Fate {
    if faults.down.load(Ordering::SeqCst) {
        return Fate::Drop;
    }
    let counted = faults
        .requests_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
            u64::MAX => Some(u64::MAX),
            0 => None,
            left => Some(left - 1),
        });
    if counted.is_err() {
        faults.down.store(true, Ordering::SeqCst);
        return Fate::Drop;
    }
    let chance = *faults.reset_chance.lock().expect("lock");
    let seed = faults.seed.fetch_add(1, Ordering::SeqCst);
    let draw = fastrand::Rng::with_seed(seed).f64();
    if draw < chance / 2.0 {
        Fate::Drop
    } else if draw < chance {
        Fate::LoseReply
    } else {
        Fate::Deliver
    }
}
