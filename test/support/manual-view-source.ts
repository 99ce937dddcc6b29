import type {
  ClusterConfigReader,
  ClusterView,
  ViewSource,
} from '../../src/cluster/view-source.js';

/**
 * A `ViewSource` a test drives by hand: it publishes views, flips the lease
 * (`quorum`) and sets config. Stands in for the coordinator in focused cluster tests.
 */
export class ManualViewSource implements ViewSource {
  /** What `hasQuorum()` answers. */
  quorum = true;
  private current: ClusterView | undefined;
  private readonly listeners = new Set<(view: ClusterView) => void>();
  private readonly values = new Map<string, unknown>();
  readonly config: ClusterConfigReader = { get: (key) => this.values.get(key) };

  constructor(initial?: ClusterView) {
    this.current = initial;
  }

  view(): ClusterView | undefined {
    return this.current;
  }

  onView(listener: (view: ClusterView) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  hasQuorum(): boolean {
    return this.quorum;
  }

  setConfig(key: string, value: unknown): void {
    this.values.set(key, value);
  }

  /** Applies `view` (ignored unless newer) and tells every listener. */
  publish(view: ClusterView): void {
    if (this.current !== undefined && view.epoch <= this.current.epoch) return;
    this.current = view;
    for (const listener of [...this.listeners]) listener(view);
  }
}
