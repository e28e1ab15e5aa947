/// Recognises the `+++` escape in the online data stream (HAYES-REFERENCE §6): silence
/// of at least the guard time (S12), three escape characters (S2) each within the guard
/// time of the previous one, then silence of at least the guard time. The characters are
/// data all the same — the detector only watches.
struct EscapeDetector: Sendable, Equatable {
    /// When the last byte arrived (or the modem went online).
    private(set) var lastByteAt: ContinuousClock.Instant
    private var count = 0
    private var lastEscapeCharacterAt: ContinuousClock.Instant
    /// When the escape takes effect if no byte arrives before; `nil` while no complete
    /// `+++` is waiting for its after-silence.
    private(set) var acceptAt: ContinuousClock.Instant?

    /// A detector for a data stream that (re)started at `now`.
    init(startingAt now: ContinuousClock.Instant) {
        lastByteAt = now
        lastEscapeCharacterAt = now
    }

    /// Watches one byte that arrived at `now`. The caller must first let a due
    /// ``acceptAt`` take effect (a byte after the after-silence does not cancel it).
    mutating func observe(_ byte: UInt8, at now: ContinuousClock.Instant, escapeCharacter: Int, guardTime: Duration) {
        defer { lastByteAt = now }
        guard escapeCharacter <= 127 else {
            count = 0
            acceptAt = nil
            return
        }
        if acceptAt != nil {
            // A byte inside the after-silence: no escape.
            acceptAt = nil
            count = 0
            return
        }
        guard Int(byte) == escapeCharacter else {
            count = 0
            return
        }
        if count > 0, now - lastEscapeCharacterAt <= guardTime {
            count += 1
        } else if now - lastByteAt >= guardTime {
            count = 1
        } else {
            count = 0
            return
        }
        lastEscapeCharacterAt = now
        if count == 3 {
            acceptAt = now + guardTime
        }
    }
}

/// SplitMix64: a small deterministic pseudo-random generator for line noise.
struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// One burst of line noise: random bytes, a run of NULs, a run of 0xFF, or the first
    /// part of a result line (`\r\nNO CARR`).
    mutating func noiseBurst() -> [UInt8] {
        switch Int.random(in: 0..<4, using: &self) {
        case 0:
            return (0..<Int.random(in: 1...8, using: &self)).map { _ in UInt8.random(in: 0...255, using: &self) }
        case 1:
            return Array(repeating: 0, count: Int.random(in: 1...4, using: &self))
        case 2:
            return Array(repeating: 0xFF, count: Int.random(in: 1...4, using: &self))
        default:
            // A cut line must not be a result itself once the next line's CR LF ends it:
            // `CONNECT` and `CONNECT 96` are results (any rate is), so that line is cut
            // inside its first word (`\r\nCONNEC` at most); the others are results only whole.
            let texts: [(text: String, longestCut: Int)] = [
                ("\r\nNO CARRIER", 11), ("\r\nCONNECT 9600", 8), ("\r\nBUSY", 5), ("OK", 1), ("\r\nRING", 5),
            ]
            let chosen = texts[Int.random(in: 0..<texts.count, using: &self)]
            return Array(Array(chosen.text.utf8).prefix(Int.random(in: 1...chosen.longestCut, using: &self)))
        }
    }
}
