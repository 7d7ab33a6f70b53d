//! Every supported handler shape, and the metadata `#[channel]` derives from them.
use chanx::prelude::*;
use chanx::{Channel, Message};

#[payload]
pub struct Text {
    pub text: String,
}

/// A question.
#[message(action = "ask")]
pub struct Ask(pub Text);

/// An answer.
#[message(action = "answer")]
pub struct Answer {
    pub payload: Text,
}

/// Broadcast notice.
#[message(action = "notice")]
pub struct Notice {}

#[message(action = "maybe")]
pub struct Maybe;

#[message(action = "fallible")]
pub struct Fallible;

#[message(action = "quiet")]
pub struct Quiet;

#[derive(Default)]
pub struct QuizConsumer {
    asked: usize,
}

/// Answers questions.
#[channel(tags("quiz"))]
impl QuizConsumer {
    /// Answers one question.
    #[ws_handler(summary = "Ask", tags("qa"))]
    async fn ask(&mut self, msg: Ask) -> Answer {
        self.asked += 1;
        Answer { payload: msg.0 }
    }

    #[ws_handler]
    async fn maybe(&self, cx: &mut Context, _msg: Maybe) -> Option<Answer> {
        cx.path_param("x").map(|x| Answer { payload: Text { text: x.into() } })
    }

    #[ws_handler]
    async fn fallible(&mut self, _msg: Fallible, _cx: &mut Context) -> chanx::Result<Option<Answer>> {
        Ok(None)
    }

    #[ws_handler(output = (Notice, Answer))]
    async fn quiet(&mut self, _msg: Quiet) {}

    fn helper(&self) -> usize {
        self.asked
    }
}

impl Consumer for QuizConsumer {}

fn main() {
    let meta = QuizConsumer::meta();
    assert_eq!(meta.name, "quiz");
    assert_eq!(meta.description, Some("Answers questions."));
    assert_eq!(meta.tags, ["quiz"]);
    assert_eq!(QuizConsumer::ACTIONS, ["ask", "maybe", "fallible", "quiet"]);
    let ask = &meta.operations[0];
    assert_eq!((ask.handler, ask.summary, ask.description), ("ask", Some("Ask"), Some("Answers one question.")));
    assert_eq!(ask.input.action, Ask::ACTION);
    assert_eq!(ask.input.description, Some("A question."));
    let outputs: Vec<Vec<&str>> =
        meta.operations.iter().map(|o| o.outputs.iter().map(|m| m.action).collect()).collect();
    assert_eq!(outputs, [vec!["answer"], vec!["answer"], vec!["answer"], vec!["notice", "answer"]]);
    assert_eq!(QuizConsumer::default().helper(), 0);
    let _route: axum::routing::MethodRouter = QuizConsumer::route();
}
