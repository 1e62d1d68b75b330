/**
 * StackEvents: one StackObserver per watched stack, shared by every
 * subscriber of that stack (ten open pages on one stack cost one watch and
 * one poll), started with the first subscriber and stopped with the last.
 */
import { type StackEvent, StackObserver, type StackView } from './stack-observer.js'
import type { StoreCatalog } from './store.js'

/** A subscription: the view when it started; `close` ends it. */
export interface Subscription {
  readonly view: StackView
  close(): void
}

/** Options of the hub. */
export interface StackEventsOptions {
  /** Poll period of each observer (milliseconds). */
  readonly pollMs: number
}

/** Observers by stack, shared by their subscribers. */
export class StackEvents {
  readonly #root: StoreCatalog
  readonly #options: StackEventsOptions
  readonly #observers = new Map<
    string,
    { observer: StackObserver; listeners: Set<(event: StackEvent) => void>; ready: Promise<StackView> }
  >()

  constructor(root: StoreCatalog, options: StackEventsOptions) {
    this.#root = root
    this.#options = options
  }

  /** Subscribes `listener` to the changes of `factory`/`stack` (names validated by the root). */
  async subscribe(factory: string, stack: string, listener: (event: StackEvent) => void): Promise<Subscription> {
    const store = this.#root.stack(factory, stack)
    const key = `${factory}/${stack}`
    let entry = this.#observers.get(key)
    if (entry === undefined) {
      const listeners = new Set<(event: StackEvent) => void>()
      const clock = this.#root.clock
      const observer = new StackObserver(
        store,
        this.#root.stackDir?.(factory, stack),
        { pollMs: this.#options.pollMs, now: () => Number(clock.nowNanos() / 1_000_000n) },
        (event) => {
          for (const l of listeners) l(event)
        },
      )
      entry = { observer, listeners, ready: observer.start() }
      this.#observers.set(key, entry)
    }
    const current = entry
    current.listeners.add(listener)
    let view: StackView
    try {
      view = await current.ready
    } catch (err) {
      this.#drop(key, current, listener)
      throw err
    }
    return { view, close: () => this.#drop(key, current, listener) }
  }

  /** Stacks watched now. */
  watched(): number {
    return this.#observers.size
  }

  /** Stops every observer. */
  close(): void {
    for (const { observer } of this.#observers.values()) observer.close()
    this.#observers.clear()
  }

  #drop(
    key: string,
    entry: { observer: StackObserver; listeners: Set<(event: StackEvent) => void> },
    listener: (event: StackEvent) => void,
  ): void {
    entry.listeners.delete(listener)
    if (entry.listeners.size === 0 && this.#observers.get(key) === entry) {
      entry.observer.close()
      this.#observers.delete(key)
    }
  }
}
