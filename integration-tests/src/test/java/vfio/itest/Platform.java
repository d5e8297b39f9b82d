package vfio.itest;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ops4j.pax.exam.Option;

/**
 * The platform's bundle set for Pax Exam: every jar Maven copied to {@code target/bundles} (the same
 * bundles cnf/vfio-platform.bndrun runs), installed by file: URL.
 */
final class Platform {
    private Platform() {
    }

    static File bundlesDir() {
        return new File(System.getProperty("bundles.dir", "target/bundles"));
    }

    /** @param exclude symbolic names (jar names without .jar) to leave out */
    static Option[] options(String... exclude) {
        List<String> skip = Arrays.asList(exclude);
        List<Option> options = new ArrayList<>();
        options.add(frameworkProperty("gosh.args").value("--nointeractive --noshutdown"));
        options.add(systemProperty("org.ops4j.pax.logging.DefaultServiceLog.level").value("WARN"));
        File[] jars = bundlesDir().listFiles((d, n) -> n.endsWith(".jar"));
        if (jars == null || jars.length == 0) {
            throw new IllegalStateException("no bundles in " + bundlesDir() + ": run through Maven (mvn verify)");
        }
        Arrays.sort(jars);
        for (File jar : jars) {
            if (!skip.contains(jar.getName().replace(".jar", ""))) {
                options.add(bundle(jar.toURI().toString()));
            }
        }
        options.add(junitBundles());
        options.add(cleanCaches());
        return options.toArray(new Option[0]);
    }
}
