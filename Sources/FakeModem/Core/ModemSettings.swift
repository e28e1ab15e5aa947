/// What makes one emulated modem different from another: name, phone number, identity
/// strings, factory register values and profile, ring cadence and injected faults.
public struct ModemSettings: Sendable, Equatable {
    /// The name used in transcripts and by `ring:` routes; `nil` gives `modem<index>`.
    /// Letters, digits, `.`, `_` and `-` only.
    public var name: String?
    /// The number that rings this modem on the exchange; `nil` gives `1000 + index`
    /// (`1000`, `1001`, …).
    public var number: String?
    /// Answers to `ATI<n>`, `AT+GMI` and friends.
    public var identity: ModemIdentity
    /// Factory values of S-registers, on top of ``SRegisters/factoryDefaults``.
    public var registers: [Int: Int]
    /// Commands applied after the hardware defaults at every factory reset (power-up,
    /// `AT&F`), e.g. `"E0 V0 &D3"`. Only settings commands are allowed.
    public var profile: String
    /// Time between two `RING`s of an incoming call.
    public var ringInterval: Duration
    /// Misbehaviour to inject.
    public var faults: FaultSet
    /// Calls from outside the bank that ring this modem.
    public var calls: [ExternalCall]
    /// Online data reaches the computer no faster than the CONNECT rate (rate/10 bytes
    /// per second), as over a real line.
    public var pace: Bool

    /// A well-behaved modem: default identity, factory registers, `RING` every 6 s.
    public init(
        name: String? = nil, number: String? = nil, identity: ModemIdentity = ModemIdentity(),
        registers: [Int: Int] = [:], profile: String = "", ringInterval: Duration = .seconds(6),
        faults: FaultSet = FaultSet(), calls: [ExternalCall] = [], pace: Bool = false
    ) {
        self.calls = calls
        self.pace = pace
        self.name = name
        self.number = number
        self.identity = identity
        self.registers = registers
        self.profile = profile
        self.ringInterval = ringInterval
        self.faults = faults
    }
}

/// The identification texts of a modem.
public struct ModemIdentity: Sendable, Equatable {
    /// `ATI<n>` answers by `n` (0…9); a missing entry answers `ERROR`, an empty text only
    /// `OK`. A text may hold several lines separated by `\n`.
    public var information: [Int: String]
    /// `AT+GMI`.
    public var manufacturer: String
    /// `AT+GMM`.
    public var model: String
    /// `AT+GMR`.
    public var revision: String
    /// `AT+GSN`.
    public var serialNumber: String
    /// `AT+GCAP`.
    public var capabilities: String

    /// The default identity of a swift-ras fake modem.
    public init(
        information: [Int: String] = [0: "56000", 1: "255", 2: "", 3: "FakeModem V1.0", 4: "swift-ras fake modem"],
        manufacturer: String = "swift-ras", model: String = "FakeModem 56K", revision: String = "1.0",
        serialNumber: String = "0000000001", capabilities: String = "+GCAP: +FCLASS, +MS, +ES, +DS"
    ) {
        self.information = information
        self.manufacturer = manufacturer
        self.model = model
        self.revision = revision
        self.serialNumber = serialNumber
        self.capabilities = capabilities
    }
}

/// Misbehaviour a dialer must survive. Every fault is off by default.
public struct FaultSet: Sendable, Equatable {
    /// Garbage (random bytes, NULs, 0xFF, half result lines) around result codes.
    public var noise: LineNoise?
    /// Call results (`BUSY`, `NO CARRIER`, `NO ANSWER`, … — not `CONNECT`) arrive this long
    /// after the modem is already back in command mode and taking commands.
    public var lateResults: Duration?
    /// Every final result code is sent twice.
    public var duplicateResults: Bool
    /// DTR is ignored whatever `&D` says (as if stuck in `&D0`).
    public var ignoresDTR: Bool
    /// `ATH` answers `OK` but the call stays up.
    public var ignoresHangUp: Bool
    /// Every command line is executed (and answered) this long after its terminator;
    /// bytes arriving meanwhile wait.
    public var slowResponses: Duration?
    /// Echo stays on whatever `E0` says.
    public var stuckEcho: Bool
    /// The first this many command lines after power-up are ignored (no echo, no answer).
    public var droppedFirstLines: Int
    /// Results in `V1` lack the leading CR LF (`BUSY\r\n`), as some Sierra devices.
    public var omitsLeadingCRLF: Bool
    /// An unsolicited `RING` at this interval while idle in command mode.
    public var spuriousRingInterval: Duration?
    /// Bytes sent in command state carry an even-parity bit in bit 7 (a 7E1 modem).
    public var parityBit: Bool
    /// After `ATZ` answers `OK` the modem keeps resetting this long: it ignores every
    /// byte (no echo, no answer), as modems that say `OK` before they are ready.
    public var busyAfterReset: Duration?
    /// Bytes that arrive sooner than this after the modem's last final result are lost (no
    /// echo, no answer): a modem that needs a pause between commands.
    public var minimumCommandGap: Duration?
    /// The modem has hung: every byte in command state is lost (no echo, no answer, no
    /// `OK` to `+++`), while DTR, a call in progress and online data go on.
    public var hung: Bool

    /// A fault set; everything off by default.
    public init(
        noise: LineNoise? = nil, lateResults: Duration? = nil, duplicateResults: Bool = false,
        ignoresDTR: Bool = false, ignoresHangUp: Bool = false, slowResponses: Duration? = nil,
        stuckEcho: Bool = false, droppedFirstLines: Int = 0, omitsLeadingCRLF: Bool = false,
        spuriousRingInterval: Duration? = nil, parityBit: Bool = false, busyAfterReset: Duration? = nil,
        minimumCommandGap: Duration? = nil, hung: Bool = false
    ) {
        self.noise = noise
        self.lateResults = lateResults
        self.duplicateResults = duplicateResults
        self.ignoresDTR = ignoresDTR
        self.ignoresHangUp = ignoresHangUp
        self.slowResponses = slowResponses
        self.stuckEcho = stuckEcho
        self.droppedFirstLines = droppedFirstLines
        self.omitsLeadingCRLF = omitsLeadingCRLF
        self.spuriousRingInterval = spuriousRingInterval
        self.parityBit = parityBit
        self.busyAfterReset = busyAfterReset
        self.minimumCommandGap = minimumCommandGap
        self.hung = hung
    }
}

/// Line noise around result codes.
public struct LineNoise: Sendable, Equatable {
    /// Probability (0…1) that a burst is inserted at each place (before, after a result).
    public var rate: Double
    /// Seed of the pseudo-random generator, so runs repeat exactly.
    public var seed: UInt64
    /// Insert bursts before results.
    public var before: Bool
    /// Insert bursts after results.
    public var after: Bool

    /// Noise with the given rate; bursts before and after results.
    public init(rate: Double, seed: UInt64 = 1, before: Bool = true, after: Bool = true) {
        self.rate = rate
        self.seed = seed
        self.before = before
        self.after = after
    }
}
