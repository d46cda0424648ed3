"""Makes the demo's live stream (static/live/demo-stream.webm) and its poster (poster.jpg) without
ffmpeg or a download: Chromium draws a short canvas animation and records it with MediaRecorder.
Run from the repository: `.venv/bin/python scripts/live_demo_video.py`."""

import base64
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "shopfest" / "web" / "static" / "live"
from playwright.sync_api import sync_playwright
JS = r"""
async () => {
  const c = document.createElement('canvas'); c.width = 640; c.height = 360;
  document.body.appendChild(c);
  const g = c.getContext('2d');
  function draw(t) {
    const grad = g.createLinearGradient(0, 0, 640, 360);
    grad.addColorStop(0, '#b3001b'); grad.addColorStop(1, '#ff6a00');
    g.fillStyle = grad; g.fillRect(0, 0, 640, 360);
    for (let i = 0; i < 12; i++) {
      const a = t / 900 + i * Math.PI / 6;
      g.beginPath(); g.fillStyle = 'rgba(255,255,255,' + (0.10 + 0.05 * (i % 3)) + ')';
      g.arc(320 + Math.cos(a) * (120 + 20 * Math.sin(t / 500 + i)), 180 + Math.sin(a) * 100, 18 + (i % 4) * 6, 0, 2 * Math.PI);
      g.fill();
    }
    g.fillStyle = '#fff'; g.textAlign = 'center';
    g.font = 'bold 64px sans-serif'; g.fillText('11.11 LIVE', 320, 170);
    g.font = '28px sans-serif'; g.fillText('ShopFest demo stream', 320, 220);
    g.beginPath(); g.fillStyle = (Math.floor(t / 500) % 2) ? '#fff' : '#ffd400';
    g.arc(40, 40, 10, 0, 2 * Math.PI); g.fill();
    g.font = 'bold 22px sans-serif'; g.textAlign = 'left'; g.fillText('LIVE', 58, 48);
  }
  draw(0);
  const poster = c.toDataURL('image/jpeg', 0.82);
  const stream = c.captureStream(15);
  const rec = new MediaRecorder(stream, {mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 250000});
  const parts = [];
  rec.ondataavailable = e => parts.push(e.data);
  const done = new Promise(r => rec.onstop = r);
  rec.start(500);
  const t0 = performance.now();
  await new Promise(resolve => {
    function frame() {
      const t = performance.now() - t0;
      draw(t);
      if (t < 6000) requestAnimationFrame(frame); else resolve();
    }
    requestAnimationFrame(frame);
  });
  rec.stop(); await done;
  const blob = new Blob(parts, {type: 'video/webm'});
  const buf = new Uint8Array(await blob.arrayBuffer());
  let s = ''; for (let i = 0; i < buf.length; i++) s += String.fromCharCode(buf[i]);
  return [btoa(s), poster.split(',')[1]];
}
"""
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
    page = b.new_page()
    page.set_content("<html><body></body></html>")
    video, poster = page.evaluate(JS)
    (OUT / "demo-stream.webm").open("wb").write(base64.b64decode(video))
    (OUT / "poster.jpg").open("wb").write(base64.b64decode(poster))
    b.close()
