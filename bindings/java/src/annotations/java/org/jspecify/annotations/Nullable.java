package org.jspecify.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Compile-only stand-in for JSpecify's {@code @Nullable} (org.jspecify:jspecify 1.0.0), so the
 * Java API compiles without network access. It is not packaged with the SDK: the class files
 * carry the annotation by name, which Kotlin and the nullness checkers read; apps that want it
 * at run time add the real artifact.
 */
@Documented
@Target(ElementType.TYPE_USE)
@Retention(RetentionPolicy.RUNTIME)
public @interface Nullable {}
