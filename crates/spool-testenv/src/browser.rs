//! Browser tests (feature `browser`): a headless Chromium driven over WebDriver (fantoccini
//! over chromedriver), with PNG screenshots under `target/explorer-screenshots/`.
//!
//! Missing browser or driver is a loud failure naming what to install, never a skip. The
//! helpers panic on failure, as test code does.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};

/// Where chromedriver is looked for (`CHROMEDRIVER` overrides).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Where Chromium is looked for (`CHROMIUM` overrides).
const CHROMIUM: &str = "/usr/bin/chromium";

fn tool(var: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.is_file(),
        "{} not found at {} (set {var}, or install Debian's `{package}` package: apt-get install {package})",
        path.file_name().and_then(|n| n.to_str()).unwrap_or(default),
        path.display()
    );
    path
}

/// The directory screenshots go to: `<target>/explorer-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("explorer-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/explorer-screenshots");
    dir
}

/// A chromedriver process and one headless Chromium session.
pub struct Browser {
    /// The WebDriver session, for what the helpers below do not cover.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless session with a fresh
    /// profile, at 1440 x 900.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// [`Browser::start`] with extra Chromium flags.
    pub async fn start_with(extra: &[&str]) -> Browser {
        let chromedriver = tool("CHROMEDRIVER", CHROMEDRIVER, "chromium-driver");
        let chromium = tool("CHROMIUM", CHROMIUM, "chromium");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = tempfile::NamedTempFile::new().expect("chromedriver log file");
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.try_wait() {
                panic!(
                    "chromedriver exited with {status} before listening: {}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = driver.kill();
                panic!(
                    "chromedriver did not listen on port {port} within 30 s: {}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("browser profile directory");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--window-size=1440,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ]
        .into_iter()
        .chain(extra.iter().map(|a| (*a).to_owned()))
        .collect::<Vec<String>>();
        let mut caps = Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": chromium, "args": args }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| {
                let _ = driver.kill();
                panic!(
                    "cannot open a Chromium session through chromedriver: {e}; driver log: {}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                )
            });
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Resizes the window (CSS pixels of the viewport, roughly).
    ///
    /// # Panics
    /// When the driver refuses.
    pub async fn size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
    }

    /// Opens `url` and waits for the document.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on the page: {e}"))
            .text()
            .await
            .unwrap()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .len()
    }

    /// The current URL's path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Clicks the element matching `css` (a form's submit button) and waits, up to 15 s, for
    /// the browser to land on another page; returns its path and query.
    pub async fn submit(&self, css: &str) -> String {
        let before = self.path().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        let started = Instant::now();
        loop {
            let ready = self.eval("document.readyState").await;
            let now = self.path().await;
            if now != before && ready.as_str() == Some("complete") {
                return now;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "submitting {css} on {before} did not leave the page within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Evaluates a JavaScript expression in the page (only to measure layout; the explorer's
    /// pages carry no script).
    pub async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return {expression};"), vec![])
            .await
            .unwrap_or_else(|e| panic!("evaluate {expression}: {e}"))
    }

    /// Whether the page is wider than the viewport (a horizontal scrollbar).
    pub async fn overflows_horizontally(&self) -> bool {
        let widths = self
            .eval("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            .await;
        widths[0].as_f64().unwrap() > widths[1].as_f64().unwrap() + 1.0
    }

    /// Saves a PNG of the viewport as `<screenshot dir>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(
            png.starts_with(b"\x89PNG"),
            "the screenshot of {name} is not a PNG"
        );
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Saves a PNG of the whole page (the window grown to the page's height, at most 6000 px,
    /// then restored) as `<screenshot dir>/<name>.png`.
    pub async fn screenshot_page(&self, name: &str) -> PathBuf {
        let (width, height) = self.client.get_window_size().await.expect("window size");
        let inner = self
            .eval("[window.innerHeight, document.documentElement.scrollHeight]")
            .await;
        let chrome = height.saturating_sub(inner[0].as_u64().unwrap_or(0));
        let page = inner[1].as_u64().unwrap_or(0);
        let tall = (page + chrome).clamp(height, 6000);
        let narrow = u32::try_from(width).expect("window width");
        self.size(narrow, u32::try_from(tall).expect("page height"))
            .await;
        let path = self.screenshot(name).await;
        self.size(narrow, u32::try_from(height).expect("window height"))
            .await;
        path
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Prints `url` to PDF with Chromium's own `--print-to-pdf` (a separate headless run, no
/// header or footer), as `<screenshot dir>/<name>.pdf`. Panics, naming the cause, when
/// Chromium is missing or prints nothing.
pub fn print_to_pdf(url: &str, name: &str) -> PathBuf {
    let chromium = tool("CHROMIUM", CHROMIUM, "chromium");
    let profile = tempfile::tempdir().expect("a Chromium profile directory");
    let pdf = screenshot_dir().join(format!("{name}.pdf"));
    let _ = std::fs::remove_file(&pdf);
    let out = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromium.display()));
    let bytes = std::fs::read(&pdf).unwrap_or_default();
    assert!(
        out.status.success() && bytes.starts_with(b"%PDF"),
        "chromium --print-to-pdf {url} made no PDF ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    pdf
}

/// A poppler tool (`pdftoppm`, `pdftotext`, `pdfinfo`), or a panic naming the package.
fn poppler(name: &str) -> Command {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.is_file(),
        "{name} not found at {} (install Debian's `poppler-utils` package: apt-get install poppler-utils)",
        path.display()
    );
    Command::new(path)
}

/// The number of pages of a PDF (poppler's `pdfinfo`).
pub fn pdf_pages(pdf: &Path) -> u32 {
    let out = poppler("pdfinfo").arg(pdf).output().expect("run pdfinfo");
    assert!(
        out.status.success(),
        "pdfinfo {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo {} names no page count", pdf.display()))
}

/// The text of a PDF, laid out (poppler's `pdftotext -layout`).
pub fn pdf_text(pdf: &Path) -> String {
    let out = poppler("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(
        out.status.success(),
        "pdftotext {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Renders each page of `pdf` to PNG at 96 dpi beside it, as `<name>-page-N.png`, and
/// returns their paths in page order.
pub fn pdf_to_png(pdf: &Path, name: &str) -> Vec<PathBuf> {
    let dir = screenshot_dir();
    let prefix = dir.join(format!("{name}-page"));
    let stale = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!("{name}-page-")) && n.ends_with(".png"))
    };
    for old in std::fs::read_dir(&dir)
        .expect("read the screenshot directory")
        .flatten()
    {
        if stale(&old.path()) {
            let _ = std::fs::remove_file(old.path());
        }
    }
    let out = poppler("pdftoppm")
        .args(["-png", "-r", "96"])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .expect("run pdftoppm");
    assert!(
        out.status.success(),
        "pdftoppm {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read the screenshot directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| stale(p))
        .collect();
    // pdftoppm numbers pages -1, -2 ... (zero-padded when there are ten or more).
    pages.sort();
    for page in &pages {
        let bytes = std::fs::read(page).expect("read a rendered page");
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            page.display()
        );
    }
    pages
}
