import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP, delivered through Dispatch instead of killing the process:
/// while it exists, `rasdial` can hang up its dial or stop watching cleanly.
final class TerminationSignals {
    /// The signals as they arrive.
    let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        let queue = DispatchQueue(label: "rasdial signals")
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

    /// Stops delivering signals (they stay ignored).
    func stop() {
        for source in sources { source.cancel() }
    }
}
