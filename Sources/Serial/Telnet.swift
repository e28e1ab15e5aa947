/// The Telnet protocol (RFC 854) as far as a serial port carried over TCP needs it: the
/// byte stream's commands, option negotiation and subnegotiation, and data escaping. Pure:
/// no I/O, so the client port, the fake modem's server and the fuzzers share one codec.
public enum Telnet {
    /// Interpret As Command: starts every command; doubled in data.
    public static let iac: UInt8 = 255
    /// Subnegotiation begin.
    public static let sb: UInt8 = 250
    /// Subnegotiation end.
    public static let se: UInt8 = 240
    /// No operation.
    public static let nop: UInt8 = 241
    /// Break (the NVT's; RFC 2217 uses SET-CONTROL for a serial break instead).
    public static let breakCommand: UInt8 = 243

    /// An option negotiation verb.
    public enum Verb: UInt8, Sendable {
        case will = 251, wont = 252, `do` = 253, dont = 254
    }

    /// The options this stack negotiates.
    public enum Option {
        /// RFC 856: 8-bit data, no CR/NUL rewriting.
        public static let binary: UInt8 = 0
        /// RFC 857.
        public static let echo: UInt8 = 1
        /// RFC 858: suppress go-ahead.
        public static let suppressGoAhead: UInt8 = 3
        /// RFC 2217: com port control.
        public static let comPort: UInt8 = 44
    }

    /// What the decoder found in the stream.
    public enum Event: Sendable, Equatable {
        /// Payload bytes, unescaped.
        case data([UInt8])
        /// `IAC WILL/WONT/DO/DONT option`.
        case negotiation(Verb, UInt8)
        /// `IAC SB option … IAC SE`, its payload unescaped.
        case subnegotiation(UInt8, [UInt8])
        /// Another two-byte command (`IAC NOP`, `IAC BRK`, …).
        case command(UInt8)
        /// A subnegotiation longer than the decoder accepts: the peer is not speaking Telnet
        /// (or is hostile). Decoding goes on after it.
        case oversizedSubnegotiation
    }

    /// Splits a Telnet stream into events. Feed it bytes as they arrive, in any pieces.
    public struct Decoder: Sendable {
        private enum State: Sendable, Equatable {
            case data, command, verb(Verb), subnegotiationOption, subnegotiation, subnegotiationCommand, carriageReturn
        }

        private var state = State.data
        private var option: UInt8 = 0
        private var payload: [UInt8] = []
        private var oversized = false
        /// Whether the peer sends in BINARY mode; outside it, the NVT's `CR NUL` means `CR`.
        public var binary: Bool
        /// The longest subnegotiation payload accepted (RFC 2217's longest is a signature).
        public let maxSubnegotiation: Int

        /// A decoder; `binary` as negotiated (an RFC 2217 port negotiates it both ways).
        public init(binary: Bool = true, maxSubnegotiation: Int = 512) {
            self.binary = binary
            self.maxSubnegotiation = maxSubnegotiation
        }

        /// The events in `bytes`, data runs coalesced, in stream order.
        public mutating func decode(_ bytes: some Sequence<UInt8>) -> [Event] {
            var events: [Event] = []
            var data: [UInt8] = []
            func flushData() {
                if !data.isEmpty {
                    events.append(.data(data))
                    data.removeAll(keepingCapacity: true)
                }
            }
            for byte in bytes {
                switch state {
                case .data, .carriageReturn:
                    let afterCR = state == .carriageReturn
                    state = .data
                    if byte == Telnet.iac {
                        state = .command
                    } else if afterCR && byte == 0 {
                        // NVT: CR NUL is a bare CR.
                    } else {
                        data.append(byte)
                        if !binary && byte == 13 { state = .carriageReturn }
                    }
                case .command:
                    state = .data
                    switch byte {
                    case Telnet.iac: data.append(Telnet.iac)
                    case Telnet.sb:
                        state = .subnegotiationOption
                    case let value where Verb(rawValue: value) != nil:
                        state = .verb(Verb(rawValue: value) ?? .wont)
                    default:
                        flushData()
                        events.append(.command(byte))
                    }
                case .verb(let verb):
                    state = .data
                    flushData()
                    events.append(.negotiation(verb, byte))
                case .subnegotiationOption:
                    option = byte
                    payload.removeAll(keepingCapacity: true)
                    oversized = false
                    state = .subnegotiation
                case .subnegotiation:
                    if byte == Telnet.iac {
                        state = .subnegotiationCommand
                    } else {
                        append(byte)
                    }
                case .subnegotiationCommand:
                    if byte == Telnet.se {
                        state = .data
                        flushData()
                        events.append(oversized ? .oversizedSubnegotiation : .subnegotiation(option, payload))
                        payload.removeAll(keepingCapacity: true)
                    } else if byte == Telnet.iac {
                        append(Telnet.iac)
                        state = .subnegotiation
                    } else {
                        // RFC 854 allows no other command inside SB; keep the byte, as most
                        // implementations do, and go on looking for IAC SE.
                        append(byte)
                        state = .subnegotiation
                    }
                }
            }
            flushData()
            return events
        }

        private mutating func append(_ byte: UInt8) {
            if payload.count < maxSubnegotiation { payload.append(byte) } else { oversized = true }
        }
    }

    /// `data` escaped for the stream: `IAC` doubled, and outside BINARY (`binary` false) a
    /// bare `CR` sent as `CR NUL`.
    public static func escape(_ data: some Collection<UInt8>, binary: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 8)
        for byte in data {
            out.append(byte)
            if byte == iac { out.append(iac) } else if !binary && byte == 13 { out.append(0) }
        }
        return out
    }

    /// `IAC verb option`.
    public static func negotiation(_ verb: Verb, _ option: UInt8) -> [UInt8] { [iac, verb.rawValue, option] }

    /// `IAC SB option payload IAC SE`, `IAC` in the payload doubled.
    public static func subnegotiation(_ option: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [iac, sb, option] + escape(payload) + [iac, se]
    }
}

/// RFC 2217's COM-PORT-OPTION: the commands a client sends to set and read a serial port
/// on an access server, and what the server answers (the same command plus 100).
public enum ComPort {
    /// A command code; the server's answer carries `rawValue + 100`.
    public enum Command: UInt8, Sendable, CaseIterable {
        case signature = 0, setBaudRate = 1, setDataSize = 2, setParity = 3, setStopSize = 4, setControl = 5
        case notifyLineState = 6, notifyModemState = 7, flowControlSuspend = 8, flowControlResume = 9
        case setLineStateMask = 10, setModemStateMask = 11, purgeData = 12
    }

    /// SET-CONTROL values.
    public enum Control: UInt8, Sendable {
        case requestFlowControl = 0, noFlowControl = 1, softwareFlowControl = 2, hardwareFlowControl = 3
        case requestBreak = 4, breakOn = 5, breakOff = 6
        case requestDTR = 7, dtrOn = 8, dtrOff = 9
        case requestRTS = 10, rtsOn = 11, rtsOff = 12
        case requestInboundFlowControl = 13, inboundNoFlowControl = 14, inboundSoftwareFlowControl = 15
        case inboundHardwareFlowControl = 16, dcdFlowControl = 17, dtrFlowControl = 18, dsrFlowControl = 19
    }

    /// PURGE-DATA values: which of the access server's buffers to discard.
    public enum Purge: UInt8, Sendable {
        case receive = 1, transmit = 2, both = 3
    }

    /// One COM-PORT-OPTION message, from either side.
    public struct Message: Sendable, Equatable {
        /// The command.
        public var command: Command
        /// Whether the server sent it (code + 100).
        public var fromServer: Bool
        /// The value bytes after the code.
        public var value: [UInt8]

        /// A message.
        public init(_ command: Command, fromServer: Bool, value: [UInt8]) {
            self.command = command
            self.fromServer = fromServer
            self.value = value
        }

        /// The message in a COM-PORT-OPTION subnegotiation payload; `nil` for an unknown code.
        public init?(payload: [UInt8]) {
            guard let code = payload.first else { return nil }
            let fromServer = code >= 100
            guard let command = Command(rawValue: fromServer ? code &- 100 : code) else { return nil }
            self.init(command, fromServer: fromServer, value: Array(payload.dropFirst()))
        }

        /// The whole `IAC SB 44 … IAC SE` sequence.
        public var encoded: [UInt8] {
            Telnet.subnegotiation(Telnet.Option.comPort, [fromServer ? command.rawValue + 100 : command.rawValue] + value)
        }

        /// The value as one byte (0 when empty).
        public var byte: UInt8 { value.first ?? 0 }

        /// The value as a 32-bit big-endian number (a baud rate); `nil` when shorter.
        public var number: UInt32? {
            guard value.count >= 4 else { return nil }
            return value.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    /// A 32-bit value in network order.
    public static func bytes(of number: UInt32) -> [UInt8] {
        [UInt8(number >> 24 & 0xFF), UInt8(number >> 16 & 0xFF), UInt8(number >> 8 & 0xFF), UInt8(number & 0xFF)]
    }

    /// The SET-PARITY value of `parity`.
    public static func code(of parity: Parity) -> UInt8 {
        switch parity {
        case .none: 1
        case .odd: 2
        case .even: 3
        case .mark: 4
        case .space: 5
        }
    }

    /// The parity of a SET-PARITY value; `nil` for 0 (a request) or an unknown value.
    public static func parity(code: UInt8) -> Parity? {
        switch code {
        case 1: Parity.none
        case 2: .odd
        case 3: .even
        case 4: .mark
        case 5: .space
        default: nil
        }
    }

    /// The SET-STOPSIZE value of `stopBits` (1 → 1, 2 → 2; 3 is 1.5, which termios lacks).
    public static func code(of stopBits: StopBits) -> UInt8 { UInt8(stopBits.rawValue) }

    /// The SET-CONTROL value selecting `flowControl`.
    public static func control(for flowControl: FlowControl) -> Control {
        switch flowControl {
        case .none: .noFlowControl
        case .hardware: .hardwareFlowControl
        case .software: .softwareFlowControl
        }
    }

    /// The modem-line bits of NOTIFY-MODEMSTATE (the upper four; the lower four are deltas).
    public static func modemLines(state: UInt8) -> ModemLines {
        var lines: ModemLines = []
        if state & 0x80 != 0 { lines.insert(.dcd) }
        if state & 0x40 != 0 { lines.insert(.ri) }
        if state & 0x20 != 0 { lines.insert(.dsr) }
        if state & 0x10 != 0 { lines.insert(.cts) }
        return lines
    }

    /// The NOTIFY-MODEMSTATE byte for `lines`, with the delta bits of what changed since
    /// `previous`. As in a UART's modem status register, RI's bit 2 is the *trailing-edge*
    /// ring detector: set when RI went off, not when it came on.
    public static func modemState(_ lines: ModemLines, previous: ModemLines?) -> UInt8 {
        let pairs: [(ModemLines, UInt8, UInt8)] = [(.dcd, 0x80, 0x08), (.ri, 0x40, 0x04), (.dsr, 0x20, 0x02), (.cts, 0x10, 0x01)]
        var state: UInt8 = 0
        for (line, bit, delta) in pairs {
            if lines.contains(line) { state |= bit }
            guard let previous, previous.contains(line) != lines.contains(line) else { continue }
            if line != .ri || previous.contains(.ri) { state |= delta }
        }
        return state
    }
}
