"""Drives the web console in headless Chromium (Selenium + Debian's chromedriver), as a person
would: a wrong token is refused, the right one signs in, then every page is opened and what it
shows is checked. A screenshot of each page goes to ARTIFACTS. Every URL the browser requested
is printed as `URL <url>` so the caller can check that the token never appears in one.

usage: drive.py GATEWAY_URL TOKEN ARTIFACTS_DIR
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

base, token, artifacts = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(artifacts, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,900", "--no-first-run", "--disable-extensions"]:
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(driver, 20)
checks = 0


def check(cond, what):
    global checks
    if not cond:
        shot("failure")
        raise SystemExit(f"FAILED: {what}")
    checks += 1


def shot(name):
    driver.save_screenshot(os.path.join(artifacts, f"{name}.png"))


def visible_text(css):
    return wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css))).text


def until_text(css, needle):
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), needle))
    return driver.find_element(By.CSS_SELECTOR, css).text


try:
    driver.get(f"{base}/console")
    check(driver.current_url.endswith("/console/"), "/console redirects to /console/")
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    shot("01-sign-in")
    driver.find_element(By.ID, "token").send_keys("not-the-token")
    driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
    check("refused" in until_text("#signin-error", "refused"), "a wrong token is refused")

    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
    datasets = until_text("table.datasets", "placements")
    check("placements" in datasets and "big" in datasets, f"datasets listed: {datasets}")
    check(driver.find_element(By.ID, "token").get_attribute("value") == "", "the token field is cleared")
    shot("02-datasets")

    driver.find_element(By.LINK_TEXT, "placements").click()
    schema = until_text("table.schema", "city")
    check("day_rate" in schema and "DOUBLE" in schema, f"schema shown: {schema}")
    history = visible_text("table.history")
    check("create" in history or "replace" in history, f"history shown: {history}")
    preview = visible_text("table.preview")
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.preview tbody tr")) == 20, f"preview rows: {preview[:200]}")
    shot("03-dataset")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-page=sql]").click()
    editor = wait.until(EC.visibility_of_element_located((By.ID, "sql-text")))
    editor.clear()
    editor.send_keys("SELECT city, count(*) AS placements, avg(day_rate) AS avg_rate FROM placements GROUP BY city ORDER BY placements DESC, city")
    driver.find_element(By.ID, "sql-run").click()
    summary = until_text("#sql-summary", "row(s)")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.result tbody tr")
    check(len(rows) >= 2, f"query rows: {summary}")
    Select(driver.find_element(By.ID, "chart-column")).select_by_visible_text("placements")
    bars = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart rect"))
    check(len(bars) == len(rows), f"{len(bars)} bars for {len(rows)} rows")
    shot("04-sql")
    editor.clear()
    editor.send_keys("SELECT nope FROM placements")
    driver.find_element(By.ID, "sql-run").click()
    check("sql_error" in until_text("#sql-result .error", "sql_error"), "a bad query shows its error")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-page=vectors]").click()
    indexes = until_text("table.indexes", "docs")
    check("cosine" in indexes or "l2" in indexes, f"index parameters shown: {indexes}")
    driver.find_element(By.ID, "search-vector").send_keys("[1, 0, 0]")
    driver.find_element(By.ID, "search-run").click()
    hits = until_text("table.hits", "a")
    check(hits.splitlines()[1].split()[1] == "a", f"nearest first: {hits}")
    shot("05-vectors")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-page=jobs]").click()
    receipts = visible_text("table.receipts")
    replays = visible_text("table.replays")
    check("pass" in replays or "fail" in replays, f"replay runs shown: {replays}")
    shot("06-jobs")
    driver.find_element(By.CSS_SELECTOR, "table.receipts a").click()
    kinds = until_text("table.kinds", "openai_chat")
    check("ok" in visible_text("#page p"), "the receipt's status")
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.inputs tbody tr")) >= 1, "the receipt's inputs")
    shot("07-receipt")

    driver.find_element(By.CSS_SELECTOR, "nav a[data-page=health]").click()
    health = until_text("table.health", "vectord")
    check(health.count("ready") >= 6, f"every service ready: {health}")
    shot("08-health")

    # The token is in session storage only: signing out forgets it, a reload asks again.
    check(driver.execute_script("return sessionStorage.getItem('lakehouse.token')") == token, "token in session storage")
    check(driver.execute_script("return localStorage.length") == 0, "nothing in local storage")
    check(driver.execute_script("return document.cookie") == "", "no cookie")
    driver.find_element(By.ID, "signout").click()
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    check(driver.execute_script("return sessionStorage.getItem('lakehouse.token')") is None, "sign out forgets the token")
    driver.refresh()
    wait.until(EC.visibility_of_element_located((By.ID, "token")))

    # The wrong token's 401 and the deliberately bad query's 400 are expected; nothing else.
    expected = lambda m: "401" in m or ("/v1/sql" in m and "400" in m)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and not expected(e["message"])]
    check(not errors, f"console errors: {errors}")
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            print("URL", msg["params"]["request"]["url"])
    print(f"console: {checks} checks passed")
finally:
    driver.quit()
