// The local page's GitHub panel: the runs GitHub's stand-in knows (GET /local/github),
// each waiting for the deployment protection rule, then approved or rejected with the
// comment signoff sent. Text is set as text, never parsed as markup.
"use strict";

(function () {
  const panel = document.getElementById("github");
  if (!panel) return;
  const list = panel.querySelector("ol");
  let nextRun = Math.floor(Date.now() / 1000) % 100000;

  function row(run) {
    const item = document.createElement("li");
    item.className = `gh-run gh-${run.state}`;
    item.dataset.state = run.state;
    const head = document.createElement("div");
    head.textContent = `${run.repository} · ${run.environment} · run ${run.run_id}: ${run.state}`;
    const sha = document.createElement("div");
    sha.className = "note";
    sha.textContent = `${run.ref} @ ${String(run.sha || "").slice(0, 12)}`;
    item.append(head, sha);
    if (run.comment) {
      const comment = document.createElement("blockquote");
      comment.textContent = run.comment;
      item.append(comment);
    }
    return item;
  }

  async function refresh() {
    const data = await (await fetch("/local/github")).json();
    const runs = (data.runs || []).slice().reverse();
    list.replaceChildren(...runs.map(row));
    if (!runs.length) {
      const empty = document.createElement("li");
      empty.className = "note";
      empty.textContent = "No deployments yet.";
      list.append(empty);
    }
  }

  panel.querySelector("button").addEventListener("click", async () => {
    nextRun += 1;
    await fetch("/local/github/webhook", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({repository: "octo-org/api", environment: "production", run_id: nextRun}),
    });
    refresh().catch(() => {});
  });
  refresh().catch(() => {});
  setInterval(() => { refresh().catch(() => {}); }, 1500);
})();
