import Hayes

/// A small deterministic generator (SplitMix64) so property tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Feeds `chunks` to a fresh framer, then flushes.
func frame(_ chunks: [[UInt8]], echo: String? = nil, maximumLineLength: Int = LineFramer.defaultMaximumLineLength) -> [FramedLine] {
    var framer = LineFramer(maximumLineLength: maximumLineLength)
    if let echo { framer.expectEcho(bytes(echo)) }
    var lines: [FramedLine] = []
    for chunk in chunks { lines += framer.feed(chunk) }
    return lines + framer.flush()
}

/// Cuts `data` at the given sorted offsets.
func split(_ data: [UInt8], at cuts: [Int]) -> [[UInt8]] {
    var chunks: [[UInt8]] = []
    var start = 0
    for cut in cuts {
        chunks.append(Array(data[start..<cut]))
        start = cut
    }
    chunks.append(Array(data[start...]))
    return chunks
}

/// Cuts `data` at random places.
func randomSplit(_ data: [UInt8], using rng: inout SplitMix64) -> [[UInt8]] {
    guard data.count > 1 else { return [data] }
    let cutCount = Int.random(in: 0...min(data.count - 1, 12), using: &rng)
    let cuts = (0..<cutCount).map { _ in Int.random(in: 1..<data.count, using: &rng) }.sorted()
    return split(data, at: cuts)
}
