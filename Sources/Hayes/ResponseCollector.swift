/// The complete answer to one command line.
public struct CommandResponse: Sendable, Hashable {
    /// The final result that ended the answer.
    public var final: FinalResult
    /// Information text lines, in order (e.g. `ATI` output, `+GCAP: …`, `050`).
    public var info: [String]
    /// Connection details reported before the final result, in order.
    public var details: [ConnectionDetail]
    /// Lines that could not be classified (noise, unknown numeric codes), in order.
    public var unrecognised: [String]
    /// Whether lines were dropped because of the collector's limits.
    public var isTruncated: Bool

    /// An answer with the given parts.
    public init(
        final: FinalResult, info: [String] = [], details: [ConnectionDetail] = [],
        unrecognised: [String] = [], isTruncated: Bool = false
    ) {
        self.final = final
        self.info = info
        self.details = details
        self.unrecognised = unrecognised
        self.isTruncated = isTruncated
    }
}

/// Gathers the responses to one command line until its final result.
///
/// Feed it every response that arrives after the command was written. Echo, `RING` and
/// `RINGING` lines are skipped (rings are counted); info, unrecognised lines and connection
/// details are kept until the final result, which completes the collector. Info and
/// unrecognised text together are capped at ``maximumTextBytes``; lines beyond the cap are
/// dropped and the response is marked truncated; so are details beyond the first
/// ``maximumDetails``. After completion, responses are ignored:
/// use a new collector for the next command.
public struct ResponseCollector: Sendable {
    /// The default cap on collected text.
    public static let defaultMaximumTextBytes = 16_384

    /// The most connection details kept; a real modem reports a handful.
    public static let maximumDetails = 64

    /// The most bytes of info and unrecognised text kept (each line counts its length + 1).
    public let maximumTextBytes: Int

    /// The answer, once the final result has arrived.
    public private(set) var response: CommandResponse?
    /// How many `RING` / `RINGING` lines arrived while collecting.
    public private(set) var ringCount = 0

    private var info: [String] = []
    private var details: [ConnectionDetail] = []
    private var unrecognised: [String] = []
    private var textBytes = 0
    private var truncated = false

    /// A collector keeping at most `maximumTextBytes` of text (negative counts as 0).
    public init(maximumTextBytes: Int = defaultMaximumTextBytes) {
        self.maximumTextBytes = max(0, maximumTextBytes)
    }

    /// Whether the final result has arrived.
    public var isComplete: Bool { response != nil }

    /// Info lines collected so far (before the final result too).
    public var collectedInfo: [String] { info }

    /// Unrecognised lines collected so far (before the final result too).
    public var collectedUnrecognised: [String] { unrecognised }

    /// Takes one response; returns the complete answer when `response` is the final result,
    /// else nil.
    public mutating func accept(_ response: ModemResponse) -> CommandResponse? {
        guard self.response == nil else { return nil }
        switch response {
        case .final(let final):
            let complete = CommandResponse(
                final: final, info: info, details: details, unrecognised: unrecognised, isTruncated: truncated)
            self.response = complete
            return complete
        case .intermediate(let detail):
            if details.count < Self.maximumDetails {
                details.append(detail)
            } else {
                truncated = true
            }
        case .ring, .ringing:
            ringCount += 1
        case .echo:
            break
        case .info(let text):
            if keep(text) { info.append(text) }
        case .unrecognised(let text):
            if keep(text) { unrecognised.append(text) }
        }
        return nil
    }

    private mutating func keep(_ text: String) -> Bool {
        let cost = text.utf8.count + 1
        guard !truncated, textBytes + cost <= maximumTextBytes else {
            truncated = true
            return false
        }
        textBytes += cost
        return true
    }
}
