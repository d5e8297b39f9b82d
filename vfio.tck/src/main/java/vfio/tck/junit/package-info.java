/**
 * The conformance kit as JUnit 5 dynamic tests. Needs JUnit Jupiter's API at runtime (the rest of
 * the kit does not): a backend's test class is
 *
 * <pre>{@code
 * class MyBackendConformanceTest {
 *     @TestFactory
 *     Stream<DynamicNode> conformance() {
 *         return ConformanceTests.of(Subject.of(new MyBackend(), "my:dev0"));
 *     }
 * }
 * }</pre>
 */
@Version("1.0.0")
@Export
package vfio.tck.junit;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
