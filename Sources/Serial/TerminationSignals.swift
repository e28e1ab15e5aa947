import Dispatch
import Glibc

/// SIGINT, SIGTERM and SIGHUP delivered as an `AsyncStream` instead of killing the process,
/// so a program can hang up, clean up and exit on its own terms. Used by `rasmand`,
/// `rasdial` and `fakemodem`.
///
/// Create it first thing: from then on the signals are ignored by default (one that arrives
/// while the program starts up is not lost to the default action) and queued on ``stream``.
public final class TerminationSignals {
    /// The signals, as they arrive.
    public let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    /// Starts catching `signals`.
    public init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        let queue = DispatchQueue(label: "swift-ras signals")
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// Waits for the next signal and returns its number (SIGTERM if delivery was stopped).
    public func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }

    /// Stops delivering signals (they stay ignored).
    public func stop() {
        for source in sources { source.cancel() }
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
