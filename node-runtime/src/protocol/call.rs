//! Requests that name their replies, for Pinion's request/reply protocols besides the
//! master's (`node_to_master::Request`): a node's control socket, an agent, a
//! launcher's control socket. A caller gets the answer its request names, or the
//! reply it got instead, which it turns into a typed error in one place.

/// A request of a request/reply protocol, and the answer it names.
pub trait Call {
    /// The protocol's requests, as they travel.
    type Request;
    /// The protocol's replies, as they travel.
    type Reply;
    /// What this request is answered with.
    type Answer;
    /// The request as it travels.
    fn request(self) -> Self::Request;
    /// The answer out of a reply; `Err` with the reply when it is another.
    fn answer(reply: Self::Reply) -> Result<Self::Answer, Self::Reply>;
}

/// Declares calls: for each, the request it travels as and the reply that answers it.
///
/// ```ignore
/// calls! { ControlRequest => ControlReply;
///     Identify => NodeIdentity: |_| ControlRequest::Identify, ControlReply::Identity(i) => i;
/// }
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! calls {
    ($request:ty => $reply:ty; $($call:ty => $answer:ty: |$this:pat_param| $build:expr, $pattern:pat => $value:expr;)*) => {
        $(
            impl $crate::protocol::call::Call for $call {
                type Request = $request;
                type Reply = $reply;
                type Answer = $answer;
                fn request(self) -> $request {
                    let $this = self;
                    $build
                }
                fn answer(reply: $reply) -> Result<$answer, $reply> {
                    #[allow(unreachable_patterns)]
                    match reply {
                        $pattern => Ok($value),
                        other => Err(other),
                    }
                }
            }
        )*
    };
}
