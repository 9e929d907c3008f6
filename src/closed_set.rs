//! [`closed_set!`]: an enum whose values are metric label values (or other fixed names), with `ALL` and `label()`
//! generated from one list, so a new variant is in `ALL` (and gets its series pre-created) by construction.
//!
//! Owns: the macro only. The sets live with what they describe ([`crate::failure`], [`crate::metrics::values`]).

/// Declares `enum $name { $variant, … }` with `$name::ALL` (every value, in declaration order) and
/// `$name::label()` (the text given for each value).
///
/// ```ignore
/// closed_set! {
///     /// Docs of the enum.
///     pub enum Colour {
///         /// Docs of the value.
///         Red => "red",
///     }
/// }
/// ```
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $label:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($label),+].len()] = [$(Self::$variant),+];

            /// The value's label text.
            pub const fn label(self) -> &'static str {
                match self {
                    $( Self::$variant => $label ),+
                }
            }
        }
    };
}

pub(crate) use closed_set;

#[cfg(test)]
mod tests {
    closed_set! {
        /// A test set.
        pub enum Sample {
            /// One.
            One => "one",
            /// Two.
            Two => "two",
        }
    }

    #[test]
    fn all_lists_every_value_with_its_label() {
        let labels: Vec<_> = Sample::ALL.iter().map(|v| v.label()).collect();
        assert_eq!(labels, ["one", "two"]);
        assert_eq!(Sample::ALL, [Sample::One, Sample::Two]);
    }
}
