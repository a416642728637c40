// A virtualized list: only the rows in view (and a few around) are in the DOM, so a run of
// 10,000+ events scrolls as lightly as one of ten. Rows may differ in height (an expanded tool
// call, a long answer): each is measured once drawn, and rows above the view that change size
// keep what is in view where it is.
export class VirtualList {
  /**
   * @param {HTMLElement} scroller the scrolling element (overflow: auto, a fixed height)
   * @param {(item: any, index: number) => HTMLElement} render one row
   * @param {(item: any) => number} estimate a row's height before it is measured
   */
  constructor(scroller, render, estimate) {
    this.scroller = scroller;
    this.render = render;
    this.estimate = estimate;
    this.items = [];
    this.heights = [];
    this.offsets = new Float64Array(1);
    this.dirtyFrom = 0;
    this.spacer = document.createElement("div");
    this.spacer.className = "vspacer";
    this.layer = document.createElement("div");
    this.layer.className = "vlayer";
    this.layer.setAttribute("role", "list");
    scroller.append(this.spacer, this.layer);
    this.follow = true;
    this.frame = 0;
    this.overscan = 600;
    scroller.addEventListener("scroll", () => {
      const bottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
      this.follow = bottom < 40;
      this.schedule();
    }, { passive: true });
    new ResizeObserver(() => this.schedule()).observe(scroller);
  }

  setItems(items) {
    this.items = items;
    this.heights = items.map((item) => this.estimate(item));
    this.offsets = new Float64Array(items.length + 1);
    this.dirtyFrom = 0;
    this.schedule();
  }

  append(newItems) {
    for (const item of newItems) {
      this.items.push(item);
      this.heights.push(this.estimate(item));
    }
    if (this.offsets.length < this.items.length + 1) {
      const grown = new Float64Array(Math.max(this.items.length + 1, this.offsets.length * 2));
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.dirtyFrom = Math.min(this.dirtyFrom, this.items.length - newItems.length);
    this.schedule();
  }

  /** Forget a row's measured height (it changed: expanded, collapsed). */
  invalidate(index) {
    this.heights[index] = this.estimate(this.items[index]);
    this.dirtyFrom = Math.min(this.dirtyFrom, index);
    this.schedule();
  }

  layout() {
    const n = this.items.length;
    for (let i = this.dirtyFrom; i < n; i++) this.offsets[i + 1] = this.offsets[i] + this.heights[i];
    this.dirtyFrom = n;
    return this.offsets[n];
  }

  indexAt(y) {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid + 1] <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  scrollToIndex(index) {
    this.layout();
    this.follow = false;
    this.scroller.scrollTop = this.offsets[Math.max(0, Math.min(index, this.items.length - 1))];
    this.draw();
  }

  scrollToEnd() {
    this.follow = true;
    this.scroller.scrollTop = this.layout();
    this.draw();
  }

  draw(pass = 0) {
    let total = this.layout();
    this.spacer.style.height = `${total}px`;
    if (this.follow) this.scroller.scrollTop = total;
    const top = this.scroller.scrollTop;
    const view = this.scroller.clientHeight || 600;
    const first = this.indexAt(Math.max(0, top - this.overscan));
    const rows = [];
    for (let i = first; i < this.items.length && this.offsets[i] < top + view + this.overscan; i++) {
      const row = this.render(this.items[i], i);
      row.style.transform = `translateY(${this.offsets[i]}px)`;
      row.dataset.index = String(i);
      rows.push(row);
    }
    const focused = this.layer.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused && focused.closest("[data-seq]") ? focused.closest("[data-seq]").dataset.seq : null;
    this.layer.replaceChildren(...rows);
    // measure what was drawn; correct the layout where the estimates were off
    let changed = false;
    let above = 0;
    for (const row of rows) {
      const i = Number(row.dataset.index);
      const h = row.offsetHeight;
      if (h && Math.abs(h - this.heights[i]) > 0.5) {
        if (this.offsets[i] + this.heights[i] <= top) above += h - this.heights[i];
        this.heights[i] = h;
        this.dirtyFrom = Math.min(this.dirtyFrom, i);
        changed = true;
      }
    }
    if (focusKey) {
      const again = this.layer.querySelector(`[data-seq="${CSS.escape(focusKey)}"] .row-line`);
      if (again) again.focus({ preventScroll: true });
    }
    if (changed && pass < 3) {
      if (above && !this.follow) this.scroller.scrollTop = top + above;
      this.draw(pass + 1);
    }
  }
}
