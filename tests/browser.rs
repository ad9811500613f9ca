//! One headless Chromium for every browser test of this binary, driven through chromedriver
//! with WebDriver (`fantoccini`), as `.ci/run` installs them (Debian's `chromium` and
//! `chromium-driver`).
//!
//! Starting a browser costs about a second, so it is started once, by the first test that
//! asks, and shared: [`shared`] hands it to one test at a time (the tests of one binary run
//! in parallel, and two tests clicking in one page would disturb each other). Each test
//! starts by following its own host's sign-in link, so what the test before it left in the
//! browser does not matter. chromedriver is stopped when the test binary exits, and the
//! browser goes with it. Chromium keeps its profile and scratch folders (a few MB each run)
//! in the `TMPDIR` it is given: a folder of this binary's, removed at exit with the driver,
//! since a killed Chromium cannot clean up after itself.

use std::future::Future;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use fantoccini::{Client, Locator};

/// The browser, and the runtime its WebDriver session lives on.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Client,
    /// Lives as long as the test binary; stopped by [`stop_driver`] at exit.
    _driver: std::process::Child,
}

/// chromedriver's process group, for the exit handler.
static DRIVER_GROUP: AtomicI32 = AtomicI32::new(0);

/// The browser's temporary folder, for the exit handler.
static BROWSER_TMP: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn stop_driver() {
    let group = DRIVER_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: signalling a process group this binary started; nothing else is touched.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    if let Some(dir) = BROWSER_TMP.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The shared browser, for this test alone until the guard is dropped.
pub fn shared() -> MutexGuard<'static, Browser> {
    static BROWSER: OnceLock<Mutex<Browser>> = OnceLock::new();
    BROWSER
        .get_or_init(|| Mutex::new(Browser::start()))
        .lock()
        // A test that failed while holding it leaves a browser that still works.
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Browser {
    fn start() -> Browser {
        use std::os::unix::process::CommandExt;
        let driver = which("chromedriver").expect(
            "chromedriver is needed for the browser tests: apt-get install chromium chromium-driver",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tmp = BROWSER_TMP.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("connect-browser-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("the browser's temp folder");
            dir
        });
        let child = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        DRIVER_GROUP.store(child.id() as i32, Ordering::SeqCst);
        // SAFETY: registers a plain function that only reads an atomic and sends a signal.
        unsafe { libc::atexit(stop_driver) };
        crate::kit::eventually("chromedriver listens", || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                                        "--disable-gpu", "--window-size=1200,800"]}),
        );
        let client = runtime.block_on(async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            fantoccini::ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .expect("a browser session")
        });
        Browser {
            runtime,
            client,
            _driver: child,
        }
    }

    /// Runs `steps` with the browser's WebDriver client; their result.
    pub fn run<T, F: Future<Output = Result<T, fantoccini::error::CmdError>>>(
        &self,
        steps: impl FnOnce(Client) -> F,
    ) -> T {
        self.runtime
            .block_on(steps(self.client.clone()))
            .unwrap_or_else(|err| panic!("in the browser: {err}"))
    }
}

/// Waits (up to 20 s) for the element `css` and returns it.
pub async fn element(
    browser: &Client,
    css: &str,
) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
}

/// Waits (up to 20 s) until the element `css` has text containing `wanted`; that text.
pub async fn text_containing(
    browser: &Client,
    css: &str,
    wanted: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = match browser.find(Locator::Css(css)).await {
            Ok(found) => found.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(wanted) || std::time::Instant::now() > deadline {
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Saves a screenshot as `target/window-screenshots/NAME.png`, for people to look at.
pub fn save_screenshot(name: &str, png: &[u8]) {
    let folder =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/window-screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(format!("{name}.png")), png).unwrap();
}

/// The first `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|folder| folder.join(name))
        .find(|path| path.is_file())
}
