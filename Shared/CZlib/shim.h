#include <zlib.h>

// inflateInit2 is a macro (it passes zlib's version and the stream's size): Swift sees this.
static inline int CZlib_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
