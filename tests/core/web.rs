//! The browser build in a real browser: `scripts/web.sh build` makes the site, a small file server in
//! this test serves it, and headless Chromium (WebGPU on SwiftShader, its bundled software Vulkan)
//! opens it through ChromeDriver with a lesson in the URL. The page trains that network for a few
//! steps and pauses (`?steps=N`); the test checks that the page drew the gradient map, that its
//! statistics equal the native engine's for the same config (lavapipe here), that no kernel failed in
//! the browser's WGSL compiler, that the address bar still holds the lesson, that Export PNG (Ctrl+S)
//! and Export GIF (Ctrl+Shift+S) download files that restore it, that a dropped figure opens its
//! network, and that a browser without WebGPU gets a message naming it.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`, which
//! `scripts/deps.sh --test` installs). Without them the test fails when `CI` is set and says why it
//! skipped otherwise.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use gradscope::gpu::Engine;
use gradscope::model::NetConfig;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// Training steps the page runs before it pauses.
const STEPS: u64 = 4;
/// How long the page may take to load, compile its kernels and train.
const PAGE_TIMEOUT: Duration = Duration::from_secs(300);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the browser tools are here; with `CI` set their absence fails the test.
fn browser_available() -> bool {
    let chromium = Path::new(CHROMIUM).exists();
    let driver = Command::new(CHROMEDRIVER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if chromium && driver {
        return true;
    }
    let missing = format!(
        "the browser test needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium \
         chromium-driver, or bash scripts/deps.sh --test)"
    );
    assert!(std::env::var_os("CI").is_none(), "{missing}");
    eprintln!("SKIPPED (CI unset): {missing}");
    false
}

/// Builds the site (incrementally: cargo rebuilds only what changed) and returns its folder.
fn build_site() -> PathBuf {
    let status = Command::new("bash")
        .arg("scripts/web.sh")
        .arg("build")
        .current_dir(manifest_dir())
        .stdout(Stdio::null())
        .status()
        .expect("run scripts/web.sh");
    assert!(status.success(), "scripts/web.sh build failed");
    let site = manifest_dir().join("target/web/site");
    for file in ["index.html", "gradscope_web.js", "gradscope_web_bg.wasm"] {
        assert!(site.join(file).is_file(), "the site lacks {file}");
    }
    site
}

/// Serves the files of `site` on a free loopback port (one thread, one request per connection).
fn serve(site: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the file server");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve_one(&site, stream);
        }
    });
    port
}

fn serve_one(site: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // the headers are not needed; read them off so the client sees a complete exchange
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        n => n,
    };
    let file = site.join(name);
    let (status, body, kind) = match std::fs::read(&file) {
        Ok(body) if !name.contains("..") => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("wasm") => "application/wasm",
                _ => "application/octet-stream",
            };
            ("200 OK", body, kind)
        }
        _ => ("404 Not Found", b"not found".to_vec(), "text/plain"),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)
}

/// ChromeDriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver { child, port };
        let start = Instant::now();
        while driver.call("GET", "/status", None).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// One WebDriver request; the `value` of its JSON answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        // read the head, then exactly Content-Length bytes: the driver may keep the connection open
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("chromedriver closed the connection".into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(|_| "bad Content-Length")?;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        let json = String::from_utf8_lossy(&body);
        let value: Value = serde_json::from_str(&json)
            .map_err(|e| format!("{e}: {}", json.chars().take(300).collect::<String>()))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("{head}: {value}"));
        }
        Ok(value["value"].clone())
    }

    /// A new headless Chromium session with `args`, saving downloads into `downloads`.
    fn session(&self, args: &[&str], downloads: &Path) -> Session<'_> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let value = self
            .call("POST", "/session", Some(caps))
            .expect("a browser session");
        let id = value["sessionId"].as_str().expect("session id").to_string();
        Session { driver: self, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session, closed when dropped.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn go(&self, url: &str) {
        self.driver
            .call(
                "POST",
                &format!("/session/{}/url", self.id),
                Some(json!({ "url": url })),
            )
            .expect("navigate");
    }

    fn eval(&self, script: &str) -> Value {
        self.eval_with(script, json!([]))
    }

    /// Runs `script` in the page with `args` as its `arguments`.
    fn eval_with(&self, script: &str, args: Value) -> Value {
        self.driver
            .call(
                "POST",
                &format!("/session/{}/execute/sync", self.id),
                Some(json!({"script": script, "args": args})),
            )
            .expect("run a script in the page")
    }

    /// The config the URL's fragment holds now, if it holds one.
    fn linked_config(&self) -> Option<NetConfig> {
        let hash = self.eval("return decodeURIComponent(location.hash.slice(1));");
        gradscope::app::share::parse_config(hash.as_str()?).ok()
    }

    fn text_of(&self, id: &str) -> String {
        self.eval(&format!(
            "const e = document.getElementById('{id}'); return e ? e.textContent : '';"
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Presses Ctrl (with Shift when `shift`) + `key` in the focused page.
    fn ctrl(&self, key: &str, shift: bool) {
        const CONTROL: &str = "\u{e009}";
        const SHIFT: &str = "\u{e008}";
        let mut held = vec![CONTROL];
        if shift {
            held.push(SHIFT);
        }
        let mut actions: Vec<Value> = held
            .iter()
            .map(|k| json!({"type": "keyDown", "value": k}))
            .collect();
        actions.push(json!({"type": "keyDown", "value": key}));
        actions.push(json!({"type": "keyUp", "value": key}));
        actions.extend(
            held.iter()
                .rev()
                .map(|k| json!({"type": "keyUp", "value": k})),
        );
        let keys = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.driver
            .call("POST", &format!("/session/{}/actions", self.id), Some(keys))
            .expect("key presses");
    }

    /// The browser console's messages since the last call (ChromeDriver's log endpoint).
    fn console(&self) -> Vec<String> {
        self.driver
            .call(
                "POST",
                &format!("/session/{}/se/log", self.id),
                Some(json!({"type": "browser"})),
            )
            .expect("the browser log")
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn screenshot(&self) -> image::RgbaImage {
        let b64 = self
            .driver
            .call("GET", &format!("/session/{}/screenshot", self.id), None)
            .expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 text"))
            .expect("base64");
        image::load_from_memory(&png)
            .expect("a PNG screenshot")
            .to_rgba8()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .call("DELETE", &format!("/session/{}", self.id), None);
    }
}

/// The flags under which Chromium runs WebGPU headless on a machine without a GPU (SwiftShader).
const WEBGPU_ARGS: [&str; 12] = [
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--use-vulkan=swiftshader",
    "--use-angle=swiftshader",
    "--window-size=1400,900",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// JavaScript's encodeURIComponent.
fn encode_component(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A lesson unlike the default one, so that the page can only show it by reading the link.
fn lesson() -> NetConfig {
    let text = r#"{"arch":"mlp","depth":10,"width":24,"activation":"tanh","init":"xavier-normal",
        "gain":1.3,"residual":false,"bias_std":0.0,"batch":32,"lr":0.05,"optimizer":"momentum",
        "clip":null,"seed":7,"task":"teacher"}"#;
    gradscope::app::share::parse_config(text).expect("the lesson is a valid config")
}

/// Pixels of the screenshot in the colormap's colours (not grey, near a sampled colour).
fn colormap_pixels(shot: &image::RgbaImage) -> usize {
    let palette: Vec<[i32; 3]> = (0..=64)
        .map(|i| {
            let c = gradscope::viz::colormap::sequential(f64::from(i) / 64.0);
            [i32::from(c.r()), i32::from(c.g()), i32::from(c.b())]
        })
        .collect();
    shot.pixels()
        .filter(|p| {
            let [r, g, b] = [i32::from(p[0]), i32::from(p[1]), i32::from(p[2])];
            let grey = (r - g).abs() < 12 && (g - b).abs() < 12;
            !grey
                && palette
                    .iter()
                    .any(|c| (c[0] - r).abs() + (c[1] - g).abs() + (c[2] - b).abs() < 24)
        })
        .count()
}

#[test]
fn the_browser_build_trains_the_lesson_in_the_link_like_the_native_engine() {
    if !browser_available() {
        return;
    }
    let site = build_site();
    let port = serve(site);
    let cfg = lesson();
    let config_string = gradscope::app::share::config_string(&cfg);
    let url = format!(
        "http://127.0.0.1:{port}/?steps={STEPS}#{}",
        encode_component(&config_string)
    );
    let driver = Driver::start();
    let downloads = tempfile::tempdir().expect("a download folder");
    let session = driver.session(&WEBGPU_ARGS, downloads.path());
    session.go(&url);

    // the load event fires long before the kernels compile and train: poll the page's report
    let start = Instant::now();
    let report: Value = loop {
        let problem = session.text_of("gradscope-status");
        assert!(
            !problem.contains("could not") && !problem.contains("no WebGPU"),
            "the page says: {problem}"
        );
        let text = session.text_of("gradscope-report");
        if let Ok(r) = serde_json::from_str::<Value>(&text)
            && r["running"] == false
            && r["updates"] == STEPS
            && r["stats"]["step"] == STEPS
        {
            break r;
        }
        assert!(
            start.elapsed() < PAGE_TIMEOUT,
            "the page did not report step {STEPS} in {PAGE_TIMEOUT:?}; last report: {}",
            text.chars().take(400).collect::<String>()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!(
        "browser: step {STEPS} after {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // every kernel module compiled in the browser's WGSL compiler (all are built at start; an error
    // would only be logged, and a lesson on another path would then fail)
    let errors: Vec<String> = session
        .console()
        .into_iter()
        .filter(|m| m.contains("wgpu error") || m.contains("WGSL") || m.contains("panicked"))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    // the address bar still holds the lesson (the app rewrites it as the config changes)
    assert_eq!(
        session.linked_config(),
        Some(cfg.clone()),
        "the URL fragment is the lesson"
    );

    // the figure is drawn: the gradient map's cells fill a large area in the colormap's colours
    std::thread::sleep(Duration::from_millis(500));
    let shot = session.screenshot();
    let out = manifest_dir().join("target/web/browser-test.png");
    shot.save(&out).expect("save the screenshot");
    let drawn = colormap_pixels(&shot);
    let all = (shot.width() * shot.height()) as usize;
    assert!(
        drawn * 10 > all,
        "the gradient map is not drawn: {drawn} of {all} pixels in colormap colours (see {})",
        out.display()
    );

    // the page's numbers are the native engine's for the same config
    let gpu = crate::common::gpu();
    let mut engine = Engine::new(gpu, &cfg).expect("native engine");
    engine.step(STEPS as u32);
    engine.compute();
    let native = engine.wait_stats().expect("native statistics");
    let page = &report["stats"];
    let layers = page["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), native.layers.len());
    for (p, n) in layers.iter().zip(&native.layers) {
        let pv = p["log10_delta_rms"].as_f64().expect("page log10 rms δ");
        let nv = n.log10_delta_rms.expect("native log10 rms δ");
        assert!(
            (pv - nv).abs() < 1e-4,
            "layer {}: log10 rms δ {pv} in the browser, {nv} natively",
            n.index
        );
        let pw = p["log10_grad_w_norm"].as_f64().expect("page log10 |dL/dW|");
        let nw = n.log10_grad_w_norm.expect("native log10 |dL/dW|");
        assert!((pw - nw).abs() < 1e-4, "layer {}: {pw} vs {nw}", n.index);
    }
    let (pl, nl) = (
        page["loss"].as_f64().expect("page loss"),
        native.loss.expect("native loss"),
    );
    assert!(
        (pl - nl).abs() <= 1e-4 * nl.abs().max(1.0),
        "loss {pl} vs {nl}"
    );

    // Export PNG (Ctrl+S) downloads the figure with the lesson in its config chunk
    session.eval("document.getElementById('gradscope-canvas').focus(); return true;");
    session.ctrl("s", false);
    let bytes = downloaded(&downloads.path().join("gradscope-gradient-map.png"));
    let from_figure =
        gradscope::app::share::config_from_png_bytes(&bytes).expect("the figure carries a config");
    assert_eq!(
        from_figure, cfg,
        "the downloaded figure restores the lesson"
    );

    // Export GIF (Ctrl+Shift+S) downloads the view over the steps the timeline kept, one frame per step
    // here (fewer steps than frames), with the lesson in its comment
    session.ctrl("s", true);
    let gif = downloaded(&downloads.path().join("gradscope-gradient-map.gif"));
    assert_eq!(
        gradscope::app::share::config_from_png_bytes(&gif).expect("the GIF carries a config"),
        cfg
    );
    let frames = {
        use image::AnimationDecoder;
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&gif))
            .expect("a GIF")
            .into_frames()
            .count()
    };
    assert_eq!(
        frames as u64,
        STEPS + 1,
        "a frame for each of steps 0..={STEPS}"
    );

    // dropping a figure of another network on the page restores that network, and the URL follows
    let mut other = cfg.clone();
    other.activation = gradscope::model::Activation::Sigmoid;
    other.depth = 6;
    let figure = gradscope::viz::offscreen::png_bytes(
        &egui::ColorImage::filled([8, 8], egui::Color32::WHITE),
        &[(
            gradscope::viz::offscreen::CONFIG_TEXT_KEY,
            gradscope::app::views::config_json(&other).as_str(),
        )],
    )
    .expect("a figure PNG");
    session.eval_with(
        "const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0)); \
         const files = new DataTransfer(); \
         files.items.add(new File([bytes], 'other.png', {type: 'image/png'})); \
         document.getElementById('gradscope-canvas').dispatchEvent( \
             new DragEvent('drop', {dataTransfer: files, bubbles: true, cancelable: true})); \
         return true;",
        json!([base64::engine::general_purpose::STANDARD.encode(&figure)]),
    );
    let start = Instant::now();
    while session.linked_config().as_ref() != Some(&other) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the dropped figure's network did not open; the URL holds {:?}",
            session.linked_config()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(session);

    // a browser without WebGPU gets one clear message on the page
    let plain = driver.session(
        &[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-features=WebGPU,Vulkan",
            "--no-first-run",
            "--disable-background-networking",
        ],
        downloads.path(),
    );
    plain.go(&format!("http://127.0.0.1:{port}/"));
    let start = Instant::now();
    let message = loop {
        let state = plain.eval(
            "const e = document.getElementById('gradscope-status'); \
             return e ? [e.className, e.textContent] : ['', ''];",
        );
        let text = state[1].as_str().unwrap_or_default().to_string();
        if state[0] == "problem" {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no message without WebGPU; the page says: {text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!("without WebGPU the page says: {message}");
    assert!(
        message.contains("WebGPU"),
        "the message names WebGPU: {message}"
    );
}

/// The bytes of the file Chromium downloads to `path` (it writes a .crdownload file first and renames
/// it when complete).
fn downloaded(path: &Path) -> Vec<u8> {
    let start = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            return bytes;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} was not downloaded: {:?}",
            path.display(),
            path.parent()
                .and_then(|d| std::fs::read_dir(d).ok())
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Percent-decoding, as the page's decodeURIComponent does it.
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_link_restores_its_config_and_a_bad_one_says_why() {
    use gradscope::app::share::{config_string, parse_link};
    let cfg = lesson();
    let fragment = encode_component(&config_string(&cfg));
    let link = parse_link(&fragment, "steps=12", decode_component);
    assert_eq!(link.config.expect("a config").expect("valid"), cfg);
    assert_eq!(link.steps, Some(12));

    let none = parse_link("", "", decode_component);
    assert!(none.config.is_none() && none.steps.is_none());

    // a link with an invalid network or garbage gets a message (the app then opens as before)
    let mut deep = cfg.clone();
    deep.depth = 100_000;
    let text = serde_json::to_string(&deep).expect("json");
    let bad = parse_link(
        &encode_component(&text),
        "steps=x&other=1",
        decode_component,
    );
    let e = bad
        .config
        .expect("a fragment")
        .expect_err("depth out of range");
    assert!(e.contains("depth"), "{e}");
    assert_eq!(
        bad.steps, None,
        "a step count that is not a number is ignored"
    );
    let garbage = parse_link("%7Bnot", "", decode_component);
    assert!(garbage.config.expect("a fragment").is_err());
    // a huge step count is capped like the command line's
    let capped = parse_link("", "steps=99999999999999", decode_component);
    assert_eq!(capped.steps, Some(gradscope::cli::MAX_STEPS));
}
