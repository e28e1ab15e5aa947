import Glibc
import Serial
import SystemIO

/// The termios a real serial port has at power-on (`stty -F /dev/ttyS0` after boot):
/// 9600 baud, 8 data bits, receiver on, `HUPCL` and `CLOCAL`, raw otherwise.
enum PowerOnTermios {
    /// Gives the pty slave at `path` a serial port's power-on settings, so that a program
    /// closing the port without touching `HUPCL` drops DTR — and hangs the modem up — as
    /// on a real `/dev/ttyS*`. The slave is opened and closed once to set them.
    static func apply(toSlave path: String) throws(SerialError) {
        let fd = try call("open", path) { Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        var t = termios()
        _ = try call("tcgetattr", path) { tcgetattr(fd, &t) }
        cfmakeraw(&t)
        t.c_cflag = tcflag_t(CS8 | CREAD | HUPCL | CLOCAL)
        cfsetispeed(&t, speed_t(B9600))
        cfsetospeed(&t, speed_t(B9600))
        _ = try call("tcsetattr", path) { tcsetattr(fd, TCSANOW, &t) }
    }

    private static func call(_ name: String, _ path: String, _ body: () -> Int32) throws(SerialError) -> Int32 {
        switch Syscall.result(body) {
        case .success(let value): return value
        case .failure(let errno): throw .system(operation: name, path: path, errno: errno)
        }
    }
}
