//! The web pages in a real browser: headless Chromium driven over WebDriver
//! (chromedriver) through the journeys of a practice's first days, on
//! SQLite. A screenshot of each main page goes to `target/screenshots/`.
//!
//! `tests/run` installs Debian's chromium and chromium-driver when they are
//! missing; without them these tests fail in CI and are skipped elsewhere.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use axum::{
    body::Body,
    http::{Method, StatusCode},
};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};

use crate::helpers::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn browser_available() -> bool {
    let present = std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !present {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but chromium/chromedriver are missing: tests/run installs them");
        }
        crate::helpers::skip("no chromium and chromium-driver (tests/run installs them)");
    }
    present
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver { child, port, _profile: tempfile::tempdir().unwrap() };
    // Ready when it accepts connections.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not start");
}

/// A browser window of the given width, with a fresh profile (no cookies).
async fn browser(driver: &Driver, width: u32) -> Client {
    let profile = tempfile::tempdir().unwrap();
    let args = vec![
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        format!("--window-size={width},900"),
        format!("--user-data-dir={}", profile.keep().display()),
    ];
    // Two TLS back ends are linked (sqlx's ring, the WebDriver client's
    // aws-lc); chromedriver speaks plain HTTP on loopback, so either will do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    let mut options = json!({"binary": CHROMIUM, "args": args});
    if width < 500 {
        // Desktop windows stop at 500 px; a phone is emulated (width, touch, device pixels).
        options["mobileEmulation"] = json!({"deviceMetrics": {"width": width, "height": 844, "pixelRatio": 3.0, "touch": true}});
    }
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connect to chromedriver")
}

/// Tandem on a real socket, as `tandem serve` runs it.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    format!("http://{addr}")
}

/// Steps of a journey, with the page they land on checked and photographed.
struct Page<'a> {
    c: &'a Client,
    base: &'a str,
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl<'a> Page<'a> {
    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn el(&self, css: &str) -> Element {
        self.c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    async fn fill(&self, id: &str, value: &str) {
        let e = self.el(&format!("[id='{id}']")).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Date and time inputs take their value the way a date picker sets it.
    async fn set(&self, id: &str, value: &str) {
        self.c
            .execute("document.getElementById(arguments[0]).value = arguments[1];", vec![json!(id), json!(value)])
            .await
            .unwrap();
    }

    async fn choose(&self, id: &str, value: &str) {
        self.el(&format!("[id='{id}']")).await.select_by_value(value).await.unwrap();
    }

    async fn check(&self, css: &str) {
        self.el(css).await.click().await.unwrap();
    }

    async fn submit(&self, button_text: &str) {
        let xpath = format!("//main//button[normalize-space(.)={button_text:?}]");
        let button = self.c.find(Locator::XPath(&xpath)).await.unwrap_or_else(|e| panic!("no button {button_text:?}: {e}"));
        let before = self.el("html").await;
        button.click().await.unwrap();
        self.next_page(before, button_text).await;
    }

    async fn click_link(&self, text: &str) {
        let link = self.c.find(Locator::LinkText(text)).await.unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
        let before = self.el("html").await;
        link.click().await.unwrap();
        self.next_page(before, text).await;
    }

    /// Waits for the page a click led to. The old page's `main` would be
    /// found at once while the browser is still navigating, so first wait
    /// for the old document to be gone (its elements go stale).
    async fn next_page(&self, before: Element, clicked: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while before.tag_name().await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "clicking {clicked:?} led nowhere");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.c.wait().for_element(Locator::Css("main")).await.unwrap();
    }

    async fn text(&self) -> String {
        self.el("main").await.text().await.unwrap()
    }

    async fn html(&self) -> String {
        self.c.source().await.unwrap()
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }

    async fn heading(&self) -> String {
        self.el("h1").await.text().await.unwrap()
    }

    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// No page is wider than the window: nothing to scroll sideways.
    async fn fits(&self) {
        let measured = self
            .c
            .execute(
                "const w = document.documentElement.clientWidth;
                 const wide = Array.from(document.querySelectorAll('body *'))
                   .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('table'))
                   .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
                 return [document.documentElement.scrollWidth, w, wide];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, inner) = (measured[0].as_i64().unwrap(), measured[1].as_i64().unwrap());
        assert!(scroll <= inner, "{} scrolls sideways: {scroll}px content in a {inner}px window; too wide: {}", self.path().await, measured[2]);
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.go("/sign-in?practice=riverside").await;
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.submit("Sign in").await;
    }

    async fn sign_out(&self) {
        let button = self.c.find(Locator::XPath("//header//button[normalize-space(.)='Sign out']")).await.unwrap();
        button.click().await.unwrap();
        // The sign-in page's own field: the members page has an #email too,
        // and waiting for that one let the next navigation race the sign-out.
        self.c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#practice")).await.unwrap();
    }
}

/// A download leaves no page to read: the same address fetched with the
/// browser's cookies, as the browser would have fetched it.
async fn download(app: &TestApp, c: &Client, path: &str) -> TestResponse {
    let cookies = c.get_all_cookies().await.unwrap();
    let cookie = cookies.iter().map(|c| format!("{}={}", c.name(), c.value())).collect::<Vec<_>>().join("; ");
    app.client().send(Method::GET, path, &[("cookie", &cookie)], Body::empty()).await
}

const ADMIN: &str = "avery@riverside.example";
const COUNSELOR: &str = "casey@riverside.example";
const SUPERVISOR: &str = "sasha@riverside.example";
const PARTNER_A: &str = "dan@okafor.example";
const PARTNER_B: &str = "marisol@okafor.example";
/// Text written for the care team only; no partner may ever see it.
const CLINICIAN_ONLY: &str = "Clinician only: ambivalence about the money boundary";
/// Partner B's own safety plan; partner A must not see it.
const B_ONLY: &str = "Marisol only: stay at Ana's when voices are raised";
const SCRIPT: &str = "<script>window.__tandem_xss = 1</script>";

#[tokio::test]
async fn four_journeys_in_a_real_browser() {
    let _watchdog = Watchdog::start();
    if !browser_available() {
        return;
    }
    let app = TestApp::sqlite().await;
    let base = serve(&app).await;
    let driver = start_driver().await;
    let client = browser(&driver, 1280).await;
    let p = Page { c: &client, base: &base };

    // 1. Setup link -> admin -> invite counselor, supervisor and two partners.
    let link = tandem::practice::setup::issue_setup_link(&app.state).await.unwrap().unwrap();
    p.go(&link_path(&link)).await;
    p.shot("01-setup").await;
    p.fill("practice_name", "Riverside Couples Counseling").await;
    p.fill("slug", "riverside").await;
    p.fill("time_zone", "America/Chicago").await;
    p.fill("display_name", "Avery Brooks").await;
    p.fill("email", ADMIN).await;
    p.fill("password", PASSWORD).await;
    p.submit("Create practice").await;
    assert!(p.text().await.contains("Riverside Couples Counseling"), "{}", p.text().await);
    p.shot("02-admin-home").await;

    let mut links = Vec::new();
    for (email, role) in [(COUNSELOR, "counselor"), (SUPERVISOR, "supervisor"), (PARTNER_A, "client"), (PARTNER_B, "client")] {
        p.go("/members").await;
        p.fill("email", email).await;
        p.check(&format!("input[name=roles][value={role}]")).await;
        p.submit("Create invitation link").await;
        let link = p.el("code.secret").await.text().await.unwrap();
        assert!(link.contains("/join/"), "{link}");
        links.push((email, link));
    }
    p.shot("03-members").await;
    p.sign_out().await;
    for (email, link) in &links {
        p.go(&link_path(link)).await;
        let name = match *email {
            COUNSELOR => "Casey Morgan",
            SUPERVISOR => "Sasha Lee",
            PARTNER_A => "Daniel Okafor",
            _ => "Marisol Reyes",
        };
        p.fill("display_name", name).await;
        p.fill("password", PASSWORD).await;
        p.submit("Join").await;
        assert!(p.text().await.contains(name), "{} after joining", p.text().await);
        p.sign_out().await;
    }

    // 2. The counselor takes the couple into care, writes the plan with its
    //    lapse-response timeline, a boundary and a session note, signs the
    //    note and shares the plan with the couple.
    p.sign_in(COUNSELOR, PASSWORD).await;
    assert_eq!(p.path().await, "/dashboard");
    p.shot("04-counselor-dashboard").await;
    p.click_link("Take a couple into care").await;
    p.fill("label", &format!("Okafor & Reyes {SCRIPT}")).await;
    p.fill("partner_a.full_name", "Daniel Okafor").await;
    p.fill("partner_a.preferred_name", "Dan").await;
    p.fill("partner_b.full_name", "Marisol Reyes").await;
    p.fill("partner_b.preferred_name", "Marisol").await;
    let account = |html: &str, name: &str| -> String {
        let at = html.find(&format!(">{name} (")).unwrap_or_else(|| panic!("no account option for {name}"));
        let start = html[..at].rfind("value=\"").unwrap() + 7;
        html[start..start + 36].to_owned()
    };
    let html = p.html().await;
    p.choose("partner_a.member_id", &account(&html, "Daniel Okafor")).await;
    p.choose("partner_b.member_id", &account(&html, "Marisol Reyes")).await;
    p.submit("Take into care").await;
    let couple_path = p.path().await;
    assert!(couple_path.starts_with("/couples/"), "{couple_path}");
    // What was typed as a script comes back as text.
    assert!(p.heading().await.contains(SCRIPT), "{}", p.heading().await);
    assert_eq!(client.execute("return window.__tandem_xss === undefined;", vec![]).await.unwrap(), Value::Bool(true));

    p.click_link("Write the plan").await;
    p.fill("tl_action_1", "Tell Marisol the same day and call your sponsor").await;
    p.choose("tl_who_1", "partner_in_recovery").await;
    p.fill("tl_action_2", "Go to Ana's if you need to; no confrontation tonight").await;
    p.choose("tl_who_2", "supporting_partner").await;
    p.choose("tl_when_2", "immediately").await;
    p.fill("reasons_for_recovery", "Be present for our daughter\nTrust each other again").await;
    p.fill("coping_strategies", "Urge surfing\nCall the sponsor").await;
    p.shot("05-plan-form").await;
    p.submit("Save as a new version").await;
    assert!(p.text().await.contains("Tell Marisol the same day"), "{}", p.text().await);

    p.click_link("Propose a boundary").await;
    p.choose("holder", "partner_b").await;
    p.choose("category", "substances_at_home").await;
    p.fill("statement", "If alcohol is brought into our home, I will stay at my sister's that night.").await;
    p.fill("consequence", "We talk about it with our counselor, not at home.").await;
    p.submit("Propose").await;
    assert!(p.text().await.contains("stay at my sister's that night"));

    p.click_link("Write a safety plan").await;
    p.choose("owner", "partner_b").await;
    p.fill("warning_signs", B_ONLY).await;
    p.submit("Save").await;

    p.click_link("Book a session").await;
    p.set("starts_at", "2026-11-24T17:00").await;
    p.submit("Save").await;
    p.click_link("Write a note").await;
    p.fill("subjective", CLINICIAN_ONLY).await;
    p.fill("plan", "Daily trust discussion every evening this week.").await;
    p.choose("plan_audience", "couple").await;
    p.fill("homework", "Each of you lists two early warning signs.").await;
    p.submit("Save draft").await;
    assert!(p.text().await.contains("Draft"), "{}", p.text().await);
    p.submit("Sign the note").await;
    assert!(p.text().await.contains("signed"), "{}", p.text().await);
    p.shot("06-signed-note").await;
    p.go(&couple_path).await;
    p.submit("Share the plan with the couple").await;
    assert!(p.text().await.contains("Shared with the couple"));
    p.shot("07-couple-page").await;
    p.click_link("Change the care team").await;
    assert!(p.text().await.contains("keeps at least one counselor"), "{}", p.text().await);
    p.shot("11-care-team").await;
    p.sign_out().await;

    // 3. Partner A sees the shared plan and boundary, agrees to the
    //    boundary, and sees neither the clinician-only note nor partner B's items.
    p.sign_in(PARTNER_A, PASSWORD).await;
    p.click_link(&format!("Okafor & Reyes {SCRIPT}")).await;
    let text = p.text().await;
    assert!(text.contains("Tell Marisol the same day"), "{text}");
    assert!(text.contains("stay at my sister's that night"), "{text}");
    assert!(text.contains("Daily trust discussion every evening"), "the shared part of the note: {text}");
    let html = p.html().await;
    assert!(!html.contains(CLINICIAN_ONLY), "partner A sees the clinician-only note");
    assert!(!html.contains(B_ONLY), "partner A sees partner B's safety plan");
    p.shot("08-partner-portal").await;
    p.submit("I agree to this boundary").await;
    // Dan reads his own agreement as his, not by his name.
    assert!(p.text().await.contains("You agreed"), "{}", p.text().await);
    p.sign_out().await;

    // 4. The supervisor finds the partner's and the counselor's views in the
    //    access log and exports it.
    p.sign_in(SUPERVISOR, PASSWORD).await;
    p.click_link("Access log").await;
    let text = p.text().await;
    assert!(text.contains("Daniel Okafor"), "the partner's views: {text}");
    assert!(text.contains("Casey Morgan"), "the counselor's views: {text}");
    p.shot("09-access-log").await;
    let export = p.c.find(Locator::XPath("//main//a[contains(., 'CSV')]")).await.unwrap().attr("href").await.unwrap().unwrap();
    let res = download(&app, p.c, &export).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let csv = res.text();
    assert!(csv.lines().count() > 2 && csv.contains("Daniel Okafor") && csv.contains("Casey Morgan"), "{csv}");
    p.go("/access-log").await;
    assert!(p.text().await.contains("export"), "the export is itself in the log: {}", p.text().await);
    client.close().await.unwrap();

    // Partners mostly use a phone: every main page fits a 390 px wide screen.
    let phone = browser(&driver, 390).await;
    let p = Page { c: &phone, base: &base };
    p.go("/sign-in").await;
    let inner = phone.execute("return window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(inner.as_i64(), Some(390), "the phone's page is {inner} px wide");
    p.sign_in(COUNSELOR, PASSWORD).await;
    for path in ["/dashboard", "", "/care-team", "/plan/edit", "/boundaries/new", "/sessions/new", "/lapses/new", "/safety-plans/new", "/profile", "/tokens"] {
        let of_couple = path.is_empty() || path.starts_with("/plan") || path.starts_with("/care-team") || path.contains("/new");
        let path = if of_couple { format!("{couple_path}{path}") } else { path.to_owned() };
        p.go(&path).await;
        p.fits().await;
    }
    p.sign_out().await;
    p.sign_in(PARTNER_A, PASSWORD).await;
    for path in ["/dashboard".to_owned(), couple_path.clone()] {
        p.go(&path).await;
        p.fits().await;
    }
    p.shot("10-partner-phone").await;
    p.sign_out().await;
    p.sign_in(SUPERVISOR, PASSWORD).await;
    p.go("/access-log").await;
    p.fits().await;
    p.sign_out().await;
    p.sign_in(ADMIN, PASSWORD).await;
    p.go("/members").await;
    p.fits().await;
    // The admin makes Sasha Casey's supervisor from the Supervision page.
    p.click_link("Supervision").await;
    let html = p.html().await;
    let option = |name: &str| -> String {
        let at = html.find(&format!(">{name}</option>")).unwrap_or_else(|| panic!("no option for {name}"));
        let start = html[..at].rfind("value=\"").unwrap() + 7;
        html[start..start + 36].to_owned()
    };
    p.choose("supervisor_id", &option("Sasha Lee")).await;
    p.choose("counselor_id", &option("Casey Morgan")).await;
    p.submit("Add the supervision").await;
    let text = p.text().await;
    assert!(text.contains("Sasha Lee") && text.contains("Casey Morgan") && !text.contains("Nobody is supervised yet"), "{text}");
    p.fits().await;
    p.shot("12-supervision-phone").await;
    phone.close().await.unwrap();
}

/// The supporting partner on her phone (issue 19): the crisis block is in
/// view without scrolling and dials; she checks off a CRAFT exercise, tells
/// her counselor privately that she is afraid, and leaves by quick exit,
/// which ends her session. Each portal page is photographed at 390 px.
#[tokio::test]
async fn the_supporting_partner_on_her_phone() {
    let _watchdog = Watchdog::start();
    if !browser_available() {
        return;
    }
    let app = TestApp::sqlite().await;
    let demo = tandem::demo::load(&app.state).await.unwrap_or_else(|e| panic!("{e:?}"));
    let marisol = demo.accounts.iter().find(|a| a.role == "supporting partner").unwrap();
    let couple = {
        use sea_orm::EntityTrait;
        entity::couples::Entity::find().one(&app.db).await.unwrap().unwrap().id
    };
    let base = serve(&app).await;
    let driver = start_driver().await;
    let phone = browser(&driver, 390).await;
    let p = Page { c: &phone, base: &base };
    p.sign_in(marisol.email, &marisol.password).await;
    let couple_path = format!("/couples/{couple}");
    p.go(&couple_path).await;
    p.fits().await;
    // "Need help now" is in view as the page opens, with a number that dials.
    let block = phone
        .execute(
            "const b = document.querySelector('.help-now'); const r = b.getBoundingClientRect();
             return [r.top, r.bottom, window.innerHeight, b.querySelectorAll('a[href^=\"tel:\"]').length];",
            vec![],
        )
        .await
        .unwrap();
    let (top, bottom, height, dials) = (block[0].as_f64().unwrap(), block[1].as_f64().unwrap(), block[2].as_f64().unwrap(), block[3].as_i64().unwrap());
    assert!(top >= 0.0 && bottom <= height, "the crisis block ({top}-{bottom}) is not in a {height} px tall window");
    assert!(dials >= 1, "no tel: link in the crisis block");
    let tel = p.el(".help-now a[href^='tel:']").await.attr("href").await.unwrap().unwrap();
    assert!(tel.starts_with("tel:+") || tel.starts_with("tel:1") || tel.starts_with("tel:9"), "{tel}");
    p.shot("20-portal-couple-phone").await;

    // Her CRAFT steps, and a check-off of the communication exercise.
    p.click_link("Your CRAFT steps").await;
    assert_eq!(p.heading().await, "Your CRAFT steps");
    p.fits().await;
    p.shot("21-portal-craft-phone").await;
    let html = p.html().await;
    let at = html.find("Say one thing you appreciated").expect("the exercise");
    let item = &html[html[..at].rfind("id=\"item-").unwrap() + 9..][..36];
    let how = format!("how-{item}");
    p.fill(&how, "Told him I loved cooking with him; he smiled").await;
    p.submit("I did this today: Say one thing you appreciated").await;
    assert!(p.text().await.contains("Told him I loved cooking with him; he smiled"));

    // She tells her counselor, privately, that she is afraid.
    p.go(&format!("{couple_path}/safety-flag")).await;
    p.fits().await;
    p.shot("22-portal-safety-phone").await;
    p.submit("Tell my counselor I am afraid").await;
    assert!(p.text().await.contains("Your counselor knows that you are afraid"));
    p.shot("23-portal-safety-flagged-phone").await;
    p.go(&couple_path).await;
    p.fits().await;
    assert!(p.text().await.contains("Your safety comes first"));
    p.shot("24-portal-couple-flagged-phone").await;
    p.go(&format!("{couple_path}/recovery-contract")).await;
    p.fits().await;
    assert!(p.text().await.contains("Daily check-ins are paused for now"));
    p.shot("25-portal-contract-phone").await;

    for (path, name) in [("/dashboard", "26-portal-dashboard-phone"), ("/calendar", "27-portal-calendar-phone")] {
        p.go(path).await;
        p.fits().await;
        p.shot(name).await;
    }

    // Quick exit: the session is gone.
    p.go(&couple_path).await;
    let button = phone.find(Locator::XPath("//main//button[normalize-space(.)='Quick exit']")).await.unwrap();
    button.click().await.unwrap();
    // The form's answer has replaced the couple's page: the session ended
    // before it was sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while p.c.current_url().await.unwrap().path() == couple_path {
        assert!(std::time::Instant::now() < deadline, "quick exit did not leave the page");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.go(&couple_path).await;
    p.c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#practice")).await.unwrap();
    assert!(p.path().await.starts_with("/sign-in"), "still signed in after quick exit: {}", p.path().await);

    // Her counselor sees the warning first, and clears it on the safety gate page.
    let counselor = demo.accounts.iter().find(|a| a.role == "counselor").unwrap();
    p.sign_in(counselor.email, &counselor.password).await;
    p.go(&couple_path).await;
    p.fits().await;
    assert!(p.text().await.contains("Safety first: Marisol Reyes fears violence"), "{}", p.text().await);
    p.shot("28-counselor-couple-flagged-phone").await;
    p.click_link("Safety page").await;
    p.fits().await;
    p.shot("29-counselor-safety-gate-phone").await;
    p.submit("Clear Marisol Reyes's fear of violence").await;
    assert!(p.text().await.contains("None recorded"));
    phone.close().await.unwrap();
}

/// Issue 18 in a browser, on the demo practice: the counselor prepares the
/// next session from the dashboard (reads the prep page, saves the agenda,
/// downloads the prep PDF); Dan, on his phone, marks his step of the live
/// lapse-response timeline done and sees it done.
#[tokio::test]
async fn the_counselor_prepares_a_session_and_dan_marks_a_step_done() {
    let _watchdog = Watchdog::start();
    if !browser_available() {
        return;
    }
    let app = TestApp::sqlite().await;
    let demo = tandem::demo::load(&app.state).await.unwrap_or_else(|e| panic!("{e:?}"));
    let login = |role: &str| demo.accounts.iter().find(|a| a.role == role).unwrap();
    let base = serve(&app).await;
    let driver = start_driver().await;

    // The counselor, at a desk: from the dashboard to the prep page.
    let desk = browser(&driver, 1280).await;
    let p = Page { c: &desk, base: &base };
    let counselor = login("counselor");
    p.sign_in(counselor.email, &counselor.password).await;
    assert_eq!(p.path().await, "/dashboard");
    let prepare = desk
        .find(Locator::XPath("//main//a[starts-with(normalize-space(.), 'Prepare')]"))
        .await
        .unwrap_or_else(|e| panic!("no Prepare link on the dashboard: {e}"));
    let target = prepare.attr("href").await.unwrap().unwrap();
    let before = p.el("html").await;
    prepare.click().await.unwrap();
    p.next_page(before, "Prepare").await;
    let prep_path = p.path().await;
    assert_eq!(prep_path, target);
    let parts: Vec<&str> = prep_path.split('/').collect();
    assert!(parts.len() == 6 && parts[1] == "couples" && parts[3] == "sessions" && parts[5] == "prep", "{prep_path}");
    assert!(p.heading().await.starts_with("Prepare the session with"), "{}", p.heading().await);
    let headings = desk.execute("return Array.from(document.querySelectorAll('main h2')).map(h => h.textContent.trim());", vec![]).await.unwrap();
    let headings: Vec<&str> = headings.as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    for wanted in ["Lapses since the last session", "Check-in adherence", "Lapse response under way", "From the last note", "Agenda"] {
        assert!(headings.contains(&wanted), "no {wanted:?} among {headings:?}");
    }
    // The demo's slip of a few days ago has its week's steps open.
    assert!(p.text().await.contains("Go to a meeting every day this week"), "{}", p.text().await);
    p.fits().await;

    // The agenda, saved and still there when the page is read again.
    let agenda = "Check in on the week after the slip\nAl-Anon: what Marisol needs from Dan";
    p.fill("agenda-text", agenda).await;
    p.submit("Save the agenda").await;
    assert_eq!(p.path().await, prep_path, "saving the agenda leads back to the prep page");
    p.go(&prep_path).await;
    let saved = p.el("#agenda-text").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(saved.replace("\r\n", "\n"), agenda);
    p.shot("30-counselor-prep").await;
    desk.execute("document.getElementById('agenda').scrollIntoView();", vec![]).await.unwrap();
    p.shot("31-counselor-prep-agenda").await;

    // The PDF the prep page links to.
    let pdf = desk.find(Locator::LinkText("Download this as a PDF")).await.unwrap().attr("href").await.unwrap().unwrap();
    let res = download(&app, &desk, &pdf).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/pdf"));
    assert!(res.body.starts_with(b"%PDF-") && res.body.len() > 1000, "{} bytes", res.body.len());
    // Kept beside the screenshots, to look at its pictures (pdftoppm -png).
    std::fs::write(screenshot_dir().join("30-counselor-prep.pdf"), &res.body).unwrap();

    // The couple page's pictures of progress: drawn, and said in words.
    let couple_path = prep_path.split("/sessions/").next().unwrap().to_owned();
    p.go(&couple_path).await;
    for picture in ["#timeline svg", "#boundaries-picture svg", "figure.heatmap svg"] {
        let size = p.el(picture).await.rectangle().await.unwrap();
        assert!(size.2 > 300.0 && size.3 > 20.0, "{picture} is drawn at {size:?}");
    }
    assert!(p.text().await.contains("Months in care since"), "the timeline's words");
    desk.execute("document.getElementById('timeline').scrollIntoView({block: 'center'});", vec![]).await.unwrap();
    p.shot("33-counselor-couple-timeline").await;
    desk.execute("document.getElementById('boundaries-picture').scrollIntoView({block: 'center'});", vec![]).await.unwrap();
    p.shot("34-counselor-couple-boundaries").await;

    // Dan's plan for his physician, disclosed from the consents page: his
    // consent in force names her, so the form offers her. The file downloads
    // and the browser stays on the page; the register then has one row more.
    let consents_path = format!("{couple_path}/consents");
    p.go(&consents_path).await;
    let rows = "return document.querySelectorAll('section[aria-labelledby=\\'register-heading\\'] tbody tr').length;";
    let before = desk.execute(rows, vec![]).await.unwrap().as_u64().unwrap();
    let registered = || async {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entity::disclosures::Entity::find().count(&app.db).await.unwrap()
    };
    let stored = registered().await;
    p.choose("disclose-partner", "a").await;
    p.choose("disclose-recipient", tandem::demo::PHYSICIAN).await;
    p.fill("disclose-purpose", "Coordinating naltrexone and follow-up").await;
    p.check("input[name='format'][value='plan_pdf']").await;
    p.fits().await;
    desk.execute("document.getElementById('disclose').scrollIntoView();", vec![]).await.unwrap();
    p.shot("35-counselor-discloses-plan").await;
    desk.find(Locator::XPath("//main//button[normalize-space(.)='Disclose and download']")).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while registered().await == stored {
        assert!(std::time::Instant::now() < deadline, "the disclosure never reached the register");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(registered().await, stored + 1);
    assert_eq!(p.path().await, consents_path, "a download leaves the browser on the page");
    p.go(&consents_path).await;
    assert_eq!(desk.execute(rows, vec![]).await.unwrap().as_u64().unwrap(), before + 1, "one more row in the register");
    assert!(p.text().await.contains("Coordinating naltrexone and follow-up"));
    p.sign_out().await;
    desk.close().await.unwrap();

    // Dan, on his phone: his step of the week, marked done from his page.
    let phone = browser(&driver, 390).await;
    let p = Page { c: &phone, base: &base };
    let dan = login("partner in recovery");
    p.sign_in(dan.email, &dan.password).await;
    p.go(&couple_path).await;
    p.fits().await;
    phone.execute("document.getElementById('timeline').scrollIntoView({block: 'center'});", vec![]).await.unwrap();
    p.shot("35-partner-timeline-picture-phone").await;
    let step = "Go to a meeting every day this week";
    let open = format!("//section[@id='lapse-response']//li[starts-with(@id, 'step-')][contains(., {step:?})][.//button[starts-with(normalize-space(.), 'Mark done')]]");
    let li = phone.find(Locator::XPath(&open)).await.unwrap_or_else(|e| panic!("no open step {step:?} for Dan: {e}"));
    let id = li.attr("id").await.unwrap().unwrap();
    assert!(!li.text().await.unwrap().contains("Done "), "{}", li.text().await.unwrap());
    p.submit(&format!("Mark done: {step}")).await;
    assert_eq!(p.path().await, couple_path);
    let li = p.el(&format!("li[id='{id}']")).await;
    let text = li.text().await.unwrap();
    assert!(text.contains("Done "), "the step is not shown done: {text}");
    li.find(Locator::XPath(".//button[starts-with(normalize-space(.), 'Not done after all')]"))
        .await
        .unwrap_or_else(|e| panic!("no way to take the mark back: {e}"));
    p.fits().await;
    phone.execute("document.getElementById(arguments[0]).scrollIntoView({block: 'center'});", vec![json!(id)]).await.unwrap();
    p.shot("32-partner-timeline-phone").await;
    p.sign_out().await;
    phone.close().await.unwrap();
}
