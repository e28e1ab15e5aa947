import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM, SIGINT and SIGHUP, delivered through Dispatch instead of killing the process.
///
/// Created first thing in `run()`: the signals are ignored from then on (so one that arrives
/// while the daemon starts is not lost to the default action) and queued for ``next()``.
final class TerminationSignals {
    /// The signals as they arrive.
    let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32] = [SIGTERM, SIGINT, SIGHUP]) {
        let queue = DispatchQueue(label: "rasmand signals")
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

    /// Waits for the next signal and returns its number.
    func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }

    /// The conventional name, e.g. `SIGTERM`.
    static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}
