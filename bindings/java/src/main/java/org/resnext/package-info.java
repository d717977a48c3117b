/**
 * The resnext image classification SDK for Java and Android.
 *
 * <p>Nullability: the package is {@code @NullMarked} (JSpecify): every parameter, return value
 * and field of the public API is non-null unless annotated {@code @Nullable}, and Kotlin sees
 * the types accordingly ({@code String}, not {@code String!}). A {@code null} passed where none
 * is allowed still fails cleanly at run time ({@link org.resnext.ResnextException} with {@code
 * NULL_ARGUMENT}).
 */
@NullMarked
package org.resnext;

import org.jspecify.annotations.NullMarked;
