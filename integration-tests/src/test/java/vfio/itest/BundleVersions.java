package vfio.itest;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

/** Makes another version of a bundle: the same jar with a different Bundle-Version. */
final class BundleVersions {
    private BundleVersions() {
    }

    static File withVersion(File jar, String version) throws IOException {
        File out = File.createTempFile(jar.getName().replace(".jar", "") + "-" + version + "-", ".jar");
        out.deleteOnExit();
        try (JarInputStream in = new JarInputStream(new FileInputStream(jar))) {
            Manifest m = new Manifest(in.getManifest());
            m.getMainAttributes().put(new Attributes.Name("Bundle-Version"), version);
            try (JarOutputStream o = new JarOutputStream(new FileOutputStream(out), m)) {
                for (JarEntry e; (e = in.getNextJarEntry()) != null; ) {
                    o.putNextEntry(new JarEntry(e.getName()));
                    in.transferTo(o);
                    o.closeEntry();
                }
            }
        }
        return out;
    }

    static InputStream open(File f) throws IOException {
        return new FileInputStream(f);
    }
}
