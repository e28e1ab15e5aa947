import RAS
import Synchronization
import SystemIO

/// SIGINT, SIGTERM and SIGHUP for a form of `rasdial` that waits on rasmand (a dial,
/// `--disconnect`, `--watch`).
///
/// The form runs as a task. The first signal calls the form's `onSignal` (a dial requests
/// its hang-up there) and gives the form ``grace`` to finish on its own; then rasdial stops
/// waiting for it — it does not cancel it, so the bound holds even when rasmand answers
/// nothing, not even the hang-up request — and the form's `expired` result stands. A second
/// signal calls `onSecondSignal` at once on the signal queue (rasdial prints one line and
/// exits there).
final class SignalGuard: Sendable {
    /// How long rasdial waits, after the first signal, for what the signal started (a dial's
    /// hang-up until its status answers 6; a `--disconnect`'s hang-ups) before it exits and
    /// leaves the rest to rasmand.
    static let grace = Duration.seconds(5)

    private let signals = TerminationSignals()

    /// Starts catching the signals. `onSecondSignal`: called for every signal after the
    /// first; `nil` ignores them (the demo, which must still stop the processes it started).
    init(onSecondSignal: (@Sendable (Int32) -> Void)?) {
        if let onSecondSignal { signals.onRepeat(onSecondSignal) }
    }

    /// Stops catching the signals (they stay ignored).
    func stop() {
        signals.stop()
    }

    /// Runs `operation` and returns its result — or, when the first signal arrived and
    /// `grace` has passed since without the operation finishing, `expired`'s.
    func run<T: Sendable>(
        grace: Duration = SignalGuard.grace,
        onSignal: @escaping @Sendable (Int32) -> Void = { _ in },
        expired: @escaping @Sendable (Int32) -> Result<T, RasError>,
        _ operation: @escaping @Sendable () async throws(RasError) -> T
    ) async throws(RasError) -> T {
        let stream = signals.stream
        return try await Race.first(
            Race.outcome(of: operation),
            { () async -> Result<T, RasError>? in
                var signals = stream.makeAsyncIterator()
                guard let number = await signals.next() else { return nil }
                onSignal(number)
                do {
                    try await Task.sleep(for: grace)
                } catch {
                    return nil  // the operation finished first
                }
                return expired(number)
            }
        ).get()
    }
}

/// Waiting for the first of several tasks without waiting for the others.
enum Race {
    /// The first non-`nil` result of `contenders`, which run as unstructured tasks: the
    /// others are cancelled but not awaited, so one stuck in a request rasmand never
    /// answers (such a request does not end on cancellation) cannot hold the caller.
    /// At least one contender must return a result.
    static func first<T: Sendable>(_ contenders: (@Sendable () async -> T?)...) async -> T {
        let slot = Slot<T>()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            slot.arm(continuation)
            for contender in contenders {
                slot.add(Task {
                    if let value = await contender() { slot.fill(value) }
                })
            }
        }
        slot.cancelAll()
        return result
    }

    /// A contender that runs `operation` and hands back its result or its error.
    static func outcome<T: Sendable>(
        of operation: @escaping @Sendable () async throws(RasError) -> T
    ) -> @Sendable () async -> Result<T, RasError>? {
        {
            do throws(RasError) {
                return .success(try await operation())
            } catch {
                return .failure(error)
            }
        }
    }

    /// Bounds `operation` by `timeout`: its result, or `timedOut` once `timeout` passed.
    static func within<T: Sendable>(
        _ timeout: Duration, timedOut: RasError, _ operation: @escaping @Sendable () async throws(RasError) -> T
    ) async throws(RasError) -> T {
        try await first(
            Race.outcome(of: operation),
            { () async -> Result<T, RasError>? in
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return nil
                }
                return .failure(timedOut)
            }
        ).get()
    }

    /// One continuation resumed by whichever task fills it first.
    private final class Slot<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<T, Never>?
            var filled = false
            var tasks: [Task<Void, Never>] = []
        }

        private let state = Mutex(State())

        func arm(_ continuation: CheckedContinuation<T, Never>) {
            state.withLock { $0.continuation = continuation }
        }

        func add(_ task: Task<Void, Never>) {
            let cancel = state.withLock { state in
                state.tasks.append(task)
                return state.filled
            }
            if cancel { task.cancel() }
        }

        func fill(_ value: T) {
            let continuation = state.withLock { state -> CheckedContinuation<T, Never>? in
                guard !state.filled else { return nil }
                state.filled = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(returning: value)
        }

        func cancelAll() {
            for task in state.withLock({ $0.tasks }) { task.cancel() }
        }
    }
}
