import Glibc

/// A line speed that termios can express (B300 … B4000000).
public struct BaudRate: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bits per second.
    public let rawValue: Int

    /// A speed from its number of bits per second, or `nil` if termios has no constant for it.
    public init?(rawValue: Int) {
        guard BaudRate.table[rawValue] != nil else { return nil }
        self.rawValue = rawValue
    }

    /// Every speed termios knows, slowest first (B0 — "hang up" — is not a speed).
    public static var all: [BaudRate] {
        table.keys.sorted().compactMap(BaudRate.init(rawValue:))
    }

    public static let b300 = BaudRate(known: 300)
    public static let b1200 = BaudRate(known: 1200)
    public static let b2400 = BaudRate(known: 2400)
    public static let b9600 = BaudRate(known: 9600)
    public static let b19200 = BaudRate(known: 19200)
    public static let b38400 = BaudRate(known: 38400)
    public static let b57600 = BaudRate(known: 57600)
    public static let b115200 = BaudRate(known: 115200)
    public static let b230400 = BaudRate(known: 230400)
    public static let b460800 = BaudRate(known: 460800)
    public static let b921600 = BaudRate(known: 921600)
    public static let b4000000 = BaudRate(known: 4_000_000)

    private init(known: Int) { rawValue = known }

    public var description: String { "\(rawValue)" }

    public static func < (lhs: BaudRate, rhs: BaudRate) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The termios constant for this speed.
    var speedConstant: speed_t { BaudRate.table[rawValue] ?? speed_t(B9600) }

    /// The speed a termios constant stands for; `nil` for B0 or an unknown constant.
    init?(speedConstant: speed_t) {
        guard let match = BaudRate.table.first(where: { $0.value == speedConstant }) else { return nil }
        rawValue = match.key
    }

    private static let table: [Int: speed_t] = [
        300: speed_t(B300), 600: speed_t(B600), 1200: speed_t(B1200), 1800: speed_t(B1800),
        2400: speed_t(B2400), 4800: speed_t(B4800), 9600: speed_t(B9600), 19200: speed_t(B19200),
        38400: speed_t(B38400), 57600: speed_t(B57600), 115200: speed_t(B115200),
        230400: speed_t(B230400), 460800: speed_t(B460800), 500000: speed_t(B500000),
        576000: speed_t(B576000), 921600: speed_t(B921600), 1_000_000: speed_t(B1000000),
        1_152_000: speed_t(B1152000), 1_500_000: speed_t(B1500000), 2_000_000: speed_t(B2000000),
        2_500_000: speed_t(B2500000), 3_000_000: speed_t(B3000000), 3_500_000: speed_t(B3500000),
        4_000_000: speed_t(B4000000),
    ]
}

/// Bits per character.
public enum DataBits: Int, Sendable, CaseIterable {
    case five = 5, six = 6, seven = 7, eight = 8
}

/// Parity bit handling.
public enum Parity: String, Sendable, CaseIterable {
    case none, even, odd, mark, space
}

/// Stop bits per character.
public enum StopBits: Int, Sendable, CaseIterable {
    case one = 1, two = 2
}

/// Flow control between the computer and the modem.
public enum FlowControl: String, Sendable, CaseIterable {
    /// No flow control.
    case none
    /// RTS/CTS hardware handshake (`CRTSCTS`) — what modems want above 9600 bit/s.
    case hardware
    /// XON/XOFF in-band (`IXON | IXOFF`).
    case software
}

/// The line settings of a serial port. The port is always raw (no line editing, no
/// character translation, no signals), with `CREAD` on.
public struct SerialOptions: Sendable, Equatable, CustomStringConvertible {
    /// Line speed.
    public var speed: BaudRate
    /// Bits per character.
    public var dataBits: DataBits
    /// Parity.
    public var parity: Parity
    /// Stop bits.
    public var stopBits: StopBits
    /// Flow control.
    public var flowControl: FlowControl
    /// `CLOCAL`: ignore the modem's carrier-detect line. Set it while talking to the modem
    /// in command mode; clear it after CONNECT so that a carrier drop hangs the port up.
    public var ignoresCarrier: Bool
    /// `HUPCL`: drop DTR when the last descriptor closes — also when our process dies —
    /// so the modem hangs up.
    public var hangUpOnClose: Bool

    /// 115200 8N1, hardware flow control off, `CLOCAL` and `HUPCL` on.
    public init(
        speed: BaudRate = .b115200, dataBits: DataBits = .eight, parity: Parity = .none,
        stopBits: StopBits = .one, flowControl: FlowControl = .none,
        ignoresCarrier: Bool = true, hangUpOnClose: Bool = true
    ) {
        self.speed = speed
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
        self.ignoresCarrier = ignoresCarrier
        self.hangUpOnClose = hangUpOnClose
    }

    public var description: String {
        let parityLetter: Character = switch parity {
        case .none: "N"
        case .even: "E"
        case .odd: "O"
        case .mark: "M"
        case .space: "S"
        }
        let clocal = ignoresCarrier ? "clocal" : "-clocal"
        let hupcl = hangUpOnClose ? "hupcl" : "-hupcl"
        return "\(speed) \(dataBits.rawValue)\(parityLetter)\(stopBits.rawValue) flow=\(flowControl.rawValue) \(clocal) \(hupcl)"
    }

    /// Writes these options into `t`, leaving it raw.
    func apply(to t: inout termios) {
        cfmakeraw(&t)
        t.c_iflag &= ~flags(IXON, IXOFF, IXANY, INPCK, ISTRIP, IGNPAR, PARMRK)
        t.c_cflag &= ~(flags(CSIZE, PARENB, PARODD, CSTOPB, CLOCAL, HUPCL) | flags(CMSPAR) | flags(CRTSCTS))
        t.c_cflag |= tcflag_t(CREAD)
        switch dataBits {
        case .five: t.c_cflag |= tcflag_t(CS5)
        case .six: t.c_cflag |= tcflag_t(CS6)
        case .seven: t.c_cflag |= tcflag_t(CS7)
        case .eight: t.c_cflag |= tcflag_t(CS8)
        }
        switch parity {
        case .none: t.c_iflag |= tcflag_t(IGNPAR)
        case .even: t.c_cflag |= tcflag_t(PARENB); t.c_iflag |= tcflag_t(INPCK)
        case .odd: t.c_cflag |= flags(PARENB, PARODD); t.c_iflag |= tcflag_t(INPCK)
        case .mark: t.c_cflag |= flags(PARENB, PARODD) | flags(CMSPAR); t.c_iflag |= tcflag_t(INPCK)
        case .space: t.c_cflag |= flags(PARENB) | flags(CMSPAR); t.c_iflag |= tcflag_t(INPCK)
        }
        if stopBits == .two { t.c_cflag |= tcflag_t(CSTOPB) }
        switch flowControl {
        case .none: break
        case .hardware: t.c_cflag |= tcflag_t(CRTSCTS)
        case .software: t.c_iflag |= flags(IXON, IXOFF)
        }
        if ignoresCarrier { t.c_cflag |= tcflag_t(CLOCAL) }
        if hangUpOnClose { t.c_cflag |= tcflag_t(HUPCL) }
        // VMIN 1 / VTIME 0: with O_NONBLOCK an empty buffer reads as EAGAIN, so that a
        // read of 0 bytes means only one thing — the device hung up. (VMIN 0 would make
        // every empty read return 0.)
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        cfsetispeed(&t, speed.speedConstant)
        cfsetospeed(&t, speed.speedConstant)
    }

    /// Reads options back from a termios; `nil` speed if it is B0 or unknown.
    init?(termios t: termios) {
        guard let speed = BaudRate(speedConstant: cfgetospeed(withUnsafePointer(to: t) { $0 })) else { return nil }
        self.init(termiosFlags: t, speed: speed)
    }

    init(termiosFlags t: termios, speed: BaudRate) {
        self.speed = speed
        switch t.c_cflag & tcflag_t(CSIZE) {
        case tcflag_t(CS5): dataBits = .five
        case tcflag_t(CS6): dataBits = .six
        case tcflag_t(CS7): dataBits = .seven
        default: dataBits = .eight
        }
        let c = t.c_cflag
        if c & tcflag_t(PARENB) == 0 {
            parity = .none
        } else if c & tcflag_t(CMSPAR) != 0 {
            parity = c & tcflag_t(PARODD) != 0 ? .mark : .space
        } else {
            parity = c & tcflag_t(PARODD) != 0 ? .odd : .even
        }
        stopBits = c & tcflag_t(CSTOPB) != 0 ? .two : .one
        if c & tcflag_t(CRTSCTS) != 0 {
            flowControl = .hardware
        } else if t.c_iflag & tcflag_t(IXON) != 0 {
            flowControl = .software
        } else {
            flowControl = .none
        }
        ignoresCarrier = c & tcflag_t(CLOCAL) != 0
        hangUpOnClose = c & tcflag_t(HUPCL) != 0
    }
}

/// ORs termios flag constants, whatever integer type the C headers gave them.
private func flags<T: BinaryInteger>(_ values: T...) -> tcflag_t {
    values.reduce(0) { $0 | tcflag_t(truncatingIfNeeded: $1) }
}
