import Dispatch
import Glibc
import Synchronization

/// SIGINT, SIGTERM and SIGHUP delivered as an `AsyncStream` instead of killing the process,
/// so a program can hang up, clean up and exit on its own terms. Used by `rasmand`,
/// `rasdial` and `fakemodem`.
///
/// Create it first thing: from then on the signals are ignored by default (one that arrives
/// while the program starts up is not lost to the default action) and queued on ``stream``.
public final class TerminationSignals: Sendable {
    /// The signals, as they arrive (after ``onRepeat(_:)``, only the first one).
    public let stream: AsyncStream<Int32>
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let delivery: Delivery

    /// How many signals arrived, and who gets the ones after the first.
    private final class Delivery: Sendable {
        private let state = Mutex<(count: Int, repeatHandler: (@Sendable (Int32) -> Void)?)>((0, nil))

        /// Counts a signal; the handler it goes to instead of the stream, if any.
        func arrived() -> (@Sendable (Int32) -> Void)? {
            state.withLock { state in
                state.count += 1
                return state.count > 1 ? state.repeatHandler : nil
            }
        }

        func setRepeatHandler(_ handler: @escaping @Sendable (Int32) -> Void) {
            state.withLock { $0.repeatHandler = handler }
        }
    }

    /// Starts catching `signals`.
    public init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        let queue = DispatchQueue(label: "swift-ras signals")
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let delivery = Delivery()
        self.stream = stream
        self.delivery = delivery
        sources = Mutex(signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if let handler = delivery.arrived() { handler(number) } else { continuation.yield(number) }
            }
            source.resume()
            return source
        })
    }

    /// Sends every signal after the first to `handler`, called at once on the signal queue
    /// instead of through ``stream`` — for "a second Ctrl-C exits at once", which must work
    /// even while every task of the program waits on something that does not answer.
    public func onRepeat(_ handler: @escaping @Sendable (Int32) -> Void) {
        delivery.setRepeatHandler(handler)
    }

    /// Waits for the next signal and returns its number (SIGTERM if delivery was stopped).
    public func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }

    /// Stops delivering signals (they stay ignored).
    public func stop() {
        sources.withLock { sources in
            for source in sources { source.cancel() }
        }
    }

    /// Makes a write to a closed pipe or socket an `EPIPE` error instead of a SIGPIPE that
    /// kills the process — e.g. `rasdial --demo | head`, which must still stop the
    /// processes it started.
    public static func ignoreBrokenPipe() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// The conventional name, e.g. `SIGTERM`.
    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}
