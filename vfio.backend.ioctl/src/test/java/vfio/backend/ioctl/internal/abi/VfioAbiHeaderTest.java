package vfio.backend.ioctl.internal.abi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles a C program against the system's {@code <linux/vfio.h>} that prints every expression of
 * {@link VfioAbi#layoutTable()}, and compares with the Java constants. Skipped (with the reason)
 * only when gcc or the kernel headers are missing.
 */
class VfioAbiHeaderTest {
    /*
     * Definitions newer than the Linux 6.1 uAPI headers of the build machines, copied from the
     * kernel's include/uapi/linux/vfio.h and include/uapi/linux/iommufd.h (Linux 6.12 for the device
     * files and iommufd, 6.19 for the dma-buf feature). Each block is used only when the system
     * header lacks it, so on a newer system the real header is what is checked.
     */
    private static final String PRELUDE = """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/types.h>
            #include <linux/ioctl.h>
            #include <linux/vfio.h>
            #if __has_include(<linux/iommufd.h>)
            #include <linux/iommufd.h>
            #endif

            #ifndef VFIO_DEVICE_BIND_IOMMUFD
            struct vfio_device_bind_iommufd {
                __u32 argsz;
                __u32 flags;
                __s32 iommufd;
                __u32 out_devid;
            };
            #define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
            struct vfio_device_attach_iommufd_pt {
                __u32 argsz;
                __u32 flags;
                __u32 pt_id;
            };
            #define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
            struct vfio_device_detach_iommufd_pt {
                __u32 argsz;
                __u32 flags;
            };
            #define VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 20)
            #endif

            #ifndef VFIO_DEVICE_FEATURE_DMA_BUF
            #define VFIO_DEVICE_FEATURE_DMA_BUF 11
            struct vfio_region_dma_range {
                __u64 offset;
                __u64 length;
            };
            struct vfio_device_feature_dma_buf {
                __u32 region_index;
                __u32 open_flags;
                __u32 flags;
                __u32 nr_ranges;
                struct vfio_region_dma_range dma_ranges[];
            };
            #endif

            #ifndef IOMMUFD_TYPE
            #define IOMMUFD_TYPE (';')
            enum {
                IOMMUFD_CMD_BASE = 0x80,
                IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE,
                IOMMUFD_CMD_IOAS_ALLOC,
                IOMMUFD_CMD_IOAS_ALLOW_IOVAS,
                IOMMUFD_CMD_IOAS_COPY,
                IOMMUFD_CMD_IOAS_IOVA_RANGES,
                IOMMUFD_CMD_IOAS_MAP,
                IOMMUFD_CMD_IOAS_UNMAP,
            };
            struct iommu_destroy {
                __u32 size;
                __u32 id;
            };
            #define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)
            struct iommu_ioas_alloc {
                __u32 size;
                __u32 flags;
                __u32 out_ioas_id;
            };
            #define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)
            enum iommufd_ioas_map_flags {
                IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
                IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
                IOMMU_IOAS_MAP_READABLE = 1 << 2,
            };
            struct iommu_ioas_map {
                __u32 size;
                __u32 flags;
                __u32 ioas_id;
                __u32 __reserved;
                __aligned_u64 user_va;
                __aligned_u64 length;
                __aligned_u64 iova;
            };
            #define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)
            struct iommu_ioas_unmap {
                __u32 size;
                __u32 ioas_id;
                __aligned_u64 iova;
                __aligned_u64 length;
            };
            #define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)
            #endif

            int main(void) {
            """;

    @Test
    void constantsMatchTheKernelHeaders(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isRegularFile(Path.of("/usr/include/linux/vfio.h")),
                "no /usr/include/linux/vfio.h: install linux-libc-dev to run this check");
        Path gcc = findGcc();
        assumeTrue(gcc != null, "gcc not found on PATH: install gcc to check the VFIO ABI constants");

        Map<String, Long> table = VfioAbi.layoutTable();
        StringBuilder c = new StringBuilder(PRELUDE);
        for (String expr : table.keySet()) {
            c.append("    printf(\"%s=%llu\\n\", \"").append(expr).append("\", (unsigned long long) (").append(expr)
                    .append("));\n");
        }
        c.append("    return 0;\n}\n");
        Path source = dir.resolve("abi.c");
        Path binary = dir.resolve("abi");
        Files.writeString(source, c);

        String compile = run(dir, gcc.toString(), "-std=gnu11", "-Wall", "-Werror", "-o", binary.toString(), source.toString());
        String output = run(dir, binary.toString());
        assertThat(compile).as("gcc output").isEmpty();

        Map<String, Long> fromC = new LinkedHashMap<>();
        for (String line : output.split("\n")) {
            int eq = line.lastIndexOf('=');
            fromC.put(line.substring(0, eq), Long.parseUnsignedLong(line.substring(eq + 1)));
        }
        assertThat(fromC).containsExactlyEntriesOf(table);
    }

    private static Path findGcc() {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(d, "gcc");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile(dir, "out", ".txt");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish within 60 s");
        }
        String text = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("exit code of %s, output:%n%s", command[0], text).isZero();
        return text;
    }
}
