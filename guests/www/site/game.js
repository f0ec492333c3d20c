// 2048 for Flotilla's www guest. The board state is mirrored in the DOM so
// that tests can read it: #board has data-state (16 comma-separated values,
// row by row, 0 = empty) and data-moves; each tile has data-row, data-col
// and data-value.
"use strict";
(function () {
  const SIZE = 4;
  const board = document.getElementById("board");
  const scoreEl = document.getElementById("score");
  const bestEl = document.getElementById("best");
  const message = document.getElementById("message");
  const messageText = document.getElementById("message-text");
  const keepGoing = document.getElementById("keep-going");
  let cells, score, moves, won, over, merged, fresh;

  function best() { return Number(localStorage.getItem("best2048") || 0); }

  function emptyCells() {
    const free = [];
    for (let r = 0; r < SIZE; r++)
      for (let c = 0; c < SIZE; c++) if (!cells[r][c]) free.push([r, c]);
    return free;
  }

  function addTile() {
    const free = emptyCells();
    if (!free.length) return;
    const [r, c] = free[Math.floor(Math.random() * free.length)];
    cells[r][c] = Math.random() < 0.9 ? 2 : 4;
    fresh.add(r + "," + c);
  }

  function newGame() {
    cells = Array.from({ length: SIZE }, () => Array(SIZE).fill(0));
    score = 0; moves = 0; won = false; over = false; merged = new Set(); fresh = new Set();
    addTile(); addTile();
    message.hidden = true;
    render();
  }

  // Slide one line towards index 0, merging equal neighbours once.
  function slide(line) {
    const values = line.filter((v) => v);
    const out = [], mergedAt = [];
    for (let i = 0; i < values.length; i++) {
      if (values[i] === values[i + 1]) {
        out.push(values[i] * 2); score += values[i] * 2; mergedAt.push(out.length - 1); i++;
      } else out.push(values[i]);
    }
    while (out.length < SIZE) out.push(0);
    return { out, mergedAt };
  }

  // direction: 0 left, 1 up, 2 right, 3 down
  function move(direction) {
    if (over) return false;
    let changed = false;
    merged = new Set(); fresh = new Set();
    for (let i = 0; i < SIZE; i++) {
      const pos = [];
      for (let j = 0; j < SIZE; j++) {
        const k = direction >= 2 ? SIZE - 1 - j : j;
        pos.push(direction % 2 === 0 ? [i, k] : [k, i]);
      }
      const line = pos.map(([r, c]) => cells[r][c]);
      const { out, mergedAt } = slide(line);
      pos.forEach(([r, c], j) => {
        if (cells[r][c] !== out[j]) changed = true;
        cells[r][c] = out[j];
      });
      mergedAt.forEach((j) => merged.add(pos[j].join(",")));
    }
    if (!changed) return false;
    moves++;
    addTile();
    if (!won && cells.some((row) => row.includes(2048))) { won = true; show("You win!", true); }
    if (!canMove()) { over = true; show("Game over", false); }
    render();
    return true;
  }

  function canMove() {
    if (emptyCells().length) return true;
    for (let r = 0; r < SIZE; r++)
      for (let c = 0; c < SIZE; c++)
        if ((c + 1 < SIZE && cells[r][c] === cells[r][c + 1]) ||
            (r + 1 < SIZE && cells[r][c] === cells[r + 1][c])) return true;
    return false;
  }

  function show(text, canContinue) {
    messageText.textContent = text;
    keepGoing.hidden = !canContinue;
    message.hidden = false;
  }

  function render() {
    board.querySelectorAll(".cell, .tile").forEach((e) => e.remove());
    for (let r = 0; r < SIZE; r++)
      for (let c = 0; c < SIZE; c++) {
        const v = cells[r][c];
        const e = document.createElement("div");
        e.style.gridRow = r + 1; e.style.gridColumn = c + 1;
        if (v) {
          const at = r + "," + c;
          e.className = "tile" + (v > 2048 ? " big" : "") + (merged.has(at) ? " merged" : "") +
            (fresh.has(at) ? " new" : "");
          e.dataset.row = r; e.dataset.col = c; e.dataset.value = v;
          e.textContent = v;
        } else e.className = "cell";
        board.appendChild(e);
      }
    board.dataset.state = cells.flat().join(",");
    board.dataset.moves = moves;
    board.dataset.over = over;
    scoreEl.textContent = score;
    if (score > best()) localStorage.setItem("best2048", score);
    bestEl.textContent = best();
  }

  const KEYS = { ArrowLeft: 0, ArrowUp: 1, ArrowRight: 2, ArrowDown: 3 };
  document.addEventListener("keydown", (e) => {
    if (e.key in KEYS && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      move(KEYS[e.key]);
    }
  });

  let touch = null;
  board.addEventListener("touchstart", (e) => {
    if (e.touches.length === 1) touch = [e.touches[0].clientX, e.touches[0].clientY];
  }, { passive: true });
  board.addEventListener("touchend", (e) => {
    if (!touch) return;
    const dx = e.changedTouches[0].clientX - touch[0];
    const dy = e.changedTouches[0].clientY - touch[1];
    touch = null;
    if (Math.max(Math.abs(dx), Math.abs(dy)) < 24) return;
    move(Math.abs(dx) > Math.abs(dy) ? (dx < 0 ? 0 : 2) : (dy < 0 ? 1 : 3));
  });

  document.getElementById("new-game").addEventListener("click", newGame);
  document.getElementById("retry").addEventListener("click", newGame);
  keepGoing.addEventListener("click", () => { message.hidden = true; });
  // For tests and the curious: load(values) sets the board (16 numbers, row by row).
  function load(values) {
    cells = Array.from({ length: SIZE }, (_, r) => values.slice(r * SIZE, r * SIZE + SIZE));
    won = cells.some((row) => row.some((v) => v >= 2048)); over = false;
    merged = new Set(); fresh = new Set(); message.hidden = true;
    render();
  }
  window.game2048 = { move, newGame, load, state: () => cells.flat() };
  newGame();
})();
